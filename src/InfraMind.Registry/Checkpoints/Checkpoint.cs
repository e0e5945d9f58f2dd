using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using InfraMind.Signing;

namespace InfraMind.Registry.Checkpoints;

/// <summary>The log's state: <see cref="Origin"/> names the log, <see cref="RootHash"/> is MTH of the first <see cref="Size"/> leaves.</summary>
public sealed record Checkpoint(string Origin, long Size, ReadOnlyMemory<byte> RootHash)
{
    /// <summary>C2SP tlog-checkpoint body: origin, size, base64 root, each followed by a newline.</summary>
    public string Body => string.Create(CultureInfo.InvariantCulture, $"{Origin}\n{Size}\n{Convert.ToBase64String(RootHash.Span)}\n");

    public static string OriginFor(PublicKey registryKey)
    {
        ArgumentNullException.ThrowIfNull(registryKey);
        return "inframind registry " + registryKey.Fingerprint;
    }
}

/// <summary>A checkpoint with its signed-note text (what is served, stored and handed to verifiers).</summary>
public sealed record SignedCheckpoint(Checkpoint Checkpoint, string Note)
{
    /// <summary>A note as a registry serves it, verified with <paramref name="registryKey"/>; a <see cref="RegistryException"/> with the failed check's code otherwise.</summary>
    public static SignedCheckpoint Verify(string note, PublicKey registryKey)
    {
        var verification = CheckpointNote.Verify(note, registryKey);
        return verification is { IsValid: true, Checkpoint: { } checkpoint }
            ? new SignedCheckpoint(checkpoint, note)
            : throw new RegistryException(verification.ErrorCode ?? RegistryErrorCodes.CheckpointMalformed, RegistryErrorKind.Unprocessable,
                $"the registry's checkpoint does not verify with its key {registryKey.Fingerprint}: {verification.Reason}");
    }
}

/// <summary>Outcome of checking a signed note; <see cref="Checkpoint"/> is set only when it verified.</summary>
internal sealed record CheckpointVerification(bool IsValid, ErrorCode? ErrorCode, string Reason, Checkpoint? Checkpoint);

/// <summary>
/// C2SP signed-note encoding of checkpoints: body, blank line, then <c>— NAME BASE64(keyhash[4] || sig)</c>.
/// The key hash is the first 4 bytes of SHA-256 over the DER SubjectPublicKeyInfo, as Rekor does for ECDSA notes;
/// the signature is DER ECDSA-SHA256 over the body bytes.
/// </summary>
internal static class CheckpointNote
{
    public const string KeyName = "inframind-registry";
    private const string SignaturePrefix = "\u2014 ";

    public static SignedCheckpoint Sign(Checkpoint checkpoint, SigningKey key)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(key);
        var body = checkpoint.Body;
        var sig = key.Sign(Encoding.UTF8.GetBytes(body));
        var blob = new byte[4 + sig.Length];
        KeyHash(key.PublicKey).CopyTo(blob, 0);
        sig.CopyTo(blob, 4);
        var note = body + "\n" + SignaturePrefix + KeyName + " " + Convert.ToBase64String(blob) + "\n";
        return new SignedCheckpoint(checkpoint, note);
    }

    public static CheckpointVerification Verify(string note, PublicKey registryKey)
    {
        ArgumentNullException.ThrowIfNull(note);
        ArgumentNullException.ThrowIfNull(registryKey);
        var split = note.IndexOf("\n\n", StringComparison.Ordinal);
        if (split < 0)
        {
            return Fail(RegistryErrorCodes.CheckpointMalformed, "checkpoint note has no blank line between body and signatures.");
        }

        var body = note[..(split + 1)];
        var lines = body.Split('\n');
        if (lines.Length < 4)
        {
            return Fail(RegistryErrorCodes.CheckpointMalformed, "checkpoint body needs three lines: origin, tree size, base64 root hash.");
        }

        if (!long.TryParse(lines[1], NumberStyles.None, CultureInfo.InvariantCulture, out var size) || (lines[1].Length > 1 && lines[1][0] == '0'))
        {
            return Fail(RegistryErrorCodes.CheckpointMalformed, $"checkpoint tree size '{lines[1]}' is not a decimal number.");
        }

        byte[] root;
        try
        {
            root = Convert.FromBase64String(lines[2]);
        }
        catch (FormatException)
        {
            return Fail(RegistryErrorCodes.CheckpointMalformed, "checkpoint root hash is not base64.");
        }

        if (root.Length != 32)
        {
            return Fail(RegistryErrorCodes.CheckpointMalformed, $"checkpoint root hash is {root.Length} bytes, expected 32.");
        }

        var expectedOrigin = Checkpoint.OriginFor(registryKey);
        if (lines[0] != expectedOrigin)
        {
            return Fail(RegistryErrorCodes.CheckpointKeyUnknown, $"checkpoint origin is '{lines[0]}', expected '{expectedOrigin}': it comes from another registry or key.");
        }

        var keyHash = KeyHash(registryKey);
        var bodyBytes = Encoding.UTF8.GetBytes(body);
        var sawOurs = false;
        foreach (var line in note[(split + 2)..].Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!line.StartsWith(SignaturePrefix, StringComparison.Ordinal))
            {
                return Fail(RegistryErrorCodes.CheckpointMalformed, $"checkpoint signature line '{line}' does not start with '— '.");
            }

            var parts = line[SignaturePrefix.Length..].Split(' ');
            if (parts.Length != 2 || parts[0] != KeyName)
            {
                continue;
            }

            byte[] blob;
            try
            {
                blob = Convert.FromBase64String(parts[1]);
            }
            catch (FormatException)
            {
                return Fail(RegistryErrorCodes.CheckpointMalformed, "checkpoint signature is not base64.");
            }

            if (blob.Length < 5 || !blob.AsSpan(0, 4).SequenceEqual(keyHash))
            {
                continue;
            }

            sawOurs = true;
            if (registryKey.Verify(bodyBytes, blob.AsSpan(4)))
            {
                return new CheckpointVerification(true, null, $"checkpoint signed by {registryKey.Fingerprint}", new Checkpoint(lines[0], size, root));
            }
        }

        return sawOurs
            ? Fail(RegistryErrorCodes.CheckpointSignature, $"checkpoint signature does not verify with registry key {registryKey.Fingerprint}: the body or signature was altered.")
            : Fail(RegistryErrorCodes.CheckpointKeyUnknown, $"checkpoint has no signature by registry key {registryKey.Fingerprint}.");
    }

    private static byte[] KeyHash(PublicKey key) => SHA256.HashData(key.SubjectPublicKeyInfo)[..4];

    private static CheckpointVerification Fail(ErrorCode code, string reason) => new(false, code, reason, null);
}
