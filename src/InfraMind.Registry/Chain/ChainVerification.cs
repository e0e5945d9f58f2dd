using InfraMind.Registry.Models;
using InfraMind.Signing;

namespace InfraMind.Registry.Chain;

/// <summary>One published version as the chain holds it: the signed record, who signed it (recovered by the contract),
/// where and when it was included, and whether the owner yanked it.</summary>
public sealed record ChainVersionRecord(
    ChainPublishRecord Record,
    string Publisher,
    long BlockNumber,
    string BlockHash,
    string TransactionHash,
    long LogIndex,
    DateTimeOffset Timestamp,
    bool Yanked)
{
    public string Name => Record.Name;

    public string Version => Record.Version;
}

/// <summary>
/// The outcome of verifying name@version against the chain. <see cref="Checks"/> names each check
/// (<see cref="ChainVerifier.RecordCheck"/> …); <see cref="Statement"/> and <see cref="Envelope"/> are set once the
/// statement was fetched and its signature verified. A yanked version fails only the <c>yanked</c> check.
/// </summary>
public sealed record ChainVerification(IReadOnlyList<VerificationCheck> Checks, ChainVersionRecord? Record, PublishStatement? Statement, DsseEnvelope? Envelope)
{
    public bool AllPassed => Checks.All(c => c.Passed);

    public bool Yanked => Record?.Yanked == true;

    /// <summary>True when everything but the yank verified: the record is genuine, yanked or not.</summary>
    public bool Authentic => Checks.Where(c => c.Name != ChainVerifier.YankedCheck).All(c => c.Passed);
}

/// <summary>
/// Checks a fetched statement against its chain record, offline: digest (done by <see cref="StatementFetcher"/>),
/// DSSE signature, that the key which signed the statement is the key the contract recovered from the EIP-712 record,
/// and that every field the chain records is the statement's.
/// </summary>
public static class ChainVerifier
{
    public const string RecordCheck = "record";
    public const string StatementDigestCheck = "statement-digest";
    public const string SignatureCheck = EntryVerifier.SignatureCheck;
    public const string SignerCheck = "chain-signer";
    public const string StatementCheck = EntryVerifier.StatementCheck;
    public const string YankedCheck = "yanked";

    /// <summary>Verifies <paramref name="statementBytes"/> (already digest-checked) against <paramref name="record"/>.</summary>
    public static ChainVerification Verify(ChainVersionRecord record, byte[] statementBytes, ExpectedPublish? expected)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(statementBytes);
        var checks = new List<VerificationCheck>
        {
            Pass(RecordCheck, $"{record.Name}@{record.Version} recorded in block {record.BlockNumber} (transaction {record.TransactionHash})"),
            Pass(StatementDigestCheck, $"statement {record.Record.StatementUri} has the recorded digest {record.Record.StatementDigest}"),
        };

        DsseEnvelope envelope;
        try
        {
            envelope = DsseEnvelope.Parse(statementBytes);
        }
        catch (SigningException ex)
        {
            checks.Add(new VerificationCheck(SignatureCheck, false, ex.Code, "statement is not a DSSE envelope: " + ex.Message));
            return Finish(checks, record, null, null);
        }

        var signature = Dsse.VerifyPublish(envelope, expected?.Publisher);
        checks.Add(new VerificationCheck(SignatureCheck, signature.IsValid, signature.ErrorCode, signature.Reason));
        if (!signature.IsValid || signature.Statement is not { } statement)
        {
            return Finish(checks, record, null, envelope);
        }

        var address = statement.Publisher.EthereumAddress;
        checks.Add(address is not null && address.Equals(record.Publisher, StringComparison.OrdinalIgnoreCase)
            ? Pass(SignerCheck, $"the chain record and the statement are signed by the same key ({address})")
            : new VerificationCheck(SignerCheck, false, ChainErrorCodes.SignerMismatch,
                $"the chain record is signed by {record.Publisher} but the statement by {(address ?? $"a {statement.Publisher.Type.ToName()} key")} ({statement.Publisher.Fingerprint})."));

        var mismatches = new List<string>();
        Compare("name", record.Name, statement.ModelName, mismatches);
        Compare("version", record.Version, statement.Version, mismatches);
        Compare("manifest digest", record.Record.ManifestDigest, statement.ManifestDigest, mismatches);
        Compare("image digest", record.Record.ImageDigest, statement.ImageDigest, mismatches);
        Compare("endpoint id", record.Record.EndpointId, statement.EndpointId, mismatches);
        CompareExpected("model name", expected?.ModelName, statement.ModelName, mismatches);
        CompareExpected("version", expected?.Version, statement.Version, mismatches);
        CompareExpected("manifest digest (sha256 of model.yaml)", expected?.ManifestDigest, statement.ManifestDigest, mismatches);
        CompareExpected("image digest", expected?.ImageDigest, statement.ImageDigest, mismatches);
        if (statement.EndpointId != PublishStatement.DeriveEndpointId(statement.ModelName))
        {
            mismatches.Add($"endpoint id {statement.EndpointId} is not derived from '{statement.ModelName}'");
        }

        checks.Add(mismatches.Count == 0
            ? Pass(StatementCheck, $"{statement.ModelName}@{statement.Version}: manifest {statement.ManifestDigest}, image {statement.ImageDigest}, endpoint {statement.EndpointId}")
            : new VerificationCheck(StatementCheck, false, ChainErrorCodes.StatementMismatch, string.Join("; ", mismatches) + "."));
        return Finish(checks, record, statement, envelope);
    }

    /// <summary>A verification that stopped before the statement could be read (no record, statement unavailable …).</summary>
    public static ChainVerification Failed(ChainVersionRecord? record, string check, ChainException error) =>
        Finish([.. record is null ? Array.Empty<VerificationCheck>() : [Pass(RecordCheck, $"{record.Name}@{record.Version} recorded in block {record.BlockNumber} (transaction {record.TransactionHash})")],
            new VerificationCheck(check, false, error.Code, error.Message)], record, null, null);

    private static ChainVerification Finish(List<VerificationCheck> checks, ChainVersionRecord? record, PublishStatement? statement, DsseEnvelope? envelope)
    {
        if (record is not null)
        {
            checks.Add(record.Yanked
                ? new VerificationCheck(YankedCheck, false, ChainErrorCodes.Yanked, $"{record.Name}@{record.Version} is yanked by its owner: the record stays, but it is not to be served.")
                : Pass(YankedCheck, "not yanked"));
        }

        return new ChainVerification(checks, record, statement, envelope);
    }

    private static VerificationCheck Pass(string name, string reason) => new(name, true, null, reason);

    private static void Compare(string what, string? recorded, string actual, List<string> mismatches)
    {
        if (recorded is not null && recorded != actual)
        {
            mismatches.Add($"{what} is {actual} in the statement but {recorded} on record");
        }
    }

    // What the caller asked for (the version it resolved, the image it holds) is not the chain's record: said apart.
    private static void CompareExpected(string what, string? expected, string actual, List<string> mismatches)
    {
        if (expected is not null && expected != actual)
        {
            mismatches.Add($"{what} is {actual} in the statement, expected {expected}");
        }
    }
}
