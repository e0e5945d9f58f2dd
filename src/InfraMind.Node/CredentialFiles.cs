using InfraMind.Serving;

namespace InfraMind.Node;

/// <summary>
/// Where a node keeps what ties it to a gateway across restarts: the credential that gateway's registration answer
/// carried (the file), and, until such an answer has arrived, the credential the node proposed (the file +
/// <c>.proposal</c>). A node that crashes after its proposal reached the gateway but before the answer reached it
/// proposes the same one when it starts again, and registers under its id instead of meeting its own registration as
/// another node's (409 IM6019). Both files are written as <see cref="AtomicFile"/>.
/// </summary>
internal static class CredentialFiles
{
    /// <summary>The file that keeps the proposal made for the credential kept in <paramref name="credentialFile"/>.</summary>
    public static string ProposalOf(string credentialFile) => credentialFile + ".proposal";

    /// <summary>The credential kept in <paramref name="file"/>; null when there is none, or none well-formed.</summary>
    public static string? ReadCredential(string? file) => Read(file) is { } text && MeshToken.IsWellFormed(text) ? text : null;

    /// <summary>The proposal kept beside <paramref name="credentialFile"/>; null when there is none a gateway would take as one.</summary>
    public static string? ReadProposal(string? credentialFile) =>
        credentialFile is not null && Read(ProposalOf(credentialFile)) is { } text && MeshToken.IsProposable(text) ? text : null;

    /// <summary>Writes <paramref name="value"/> to <paramref name="file"/> (nothing when null), owner-only, whole or not at all.</summary>
    public static void Write(string? file, string value)
    {
        if (file is not null) AtomicFile.Write(file, System.Text.Encoding.UTF8.GetBytes(value + "\n"));
    }

    /// <summary>Removes the proposal kept beside <paramref name="credentialFile"/>, once a credential is kept there.</summary>
    public static void ForgetProposal(string? credentialFile)
    {
        if (credentialFile is not null) File.Delete(ProposalOf(credentialFile));
    }

    private static string? Read(string? file) => file is not null && File.Exists(file) ? File.ReadAllText(file).Trim() : null;
}
