using InfraMind.Registry.Checkpoints;
using InfraMind.Signing;

namespace InfraMind.Registry.Tests.Checkpoints;

public sealed class CheckpointTests
{
    [Fact]
    public void Signed_note_round_trips_in_c2sp_layout()
    {
        using var key = SigningKey.CreateEphemeral();
        var root = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var signed = CheckpointNote.Sign(new Checkpoint(Checkpoint.OriginFor(key.PublicKey), 42, root), key);

        var lines = signed.Note.Split('\n');
        Assert.Equal("inframind registry " + key.PublicKey.Fingerprint, lines[0]);
        Assert.Equal("42", lines[1]);
        Assert.Equal(Convert.ToBase64String(root), lines[2]);
        Assert.Equal(string.Empty, lines[3]);
        Assert.StartsWith("\u2014 inframind-registry ", lines[4], StringComparison.Ordinal);
        Assert.EndsWith("\n", signed.Note, StringComparison.Ordinal);

        var verified = CheckpointNote.Verify(signed.Note, key.PublicKey);
        Assert.True(verified.IsValid, verified.Reason);
        Assert.Equal(42, verified.Checkpoint!.Size);
        Assert.Equal(root, verified.Checkpoint.RootHash.ToArray());
    }

    [Fact]
    public void Tampering_is_reported_precisely()
    {
        using var key = SigningKey.CreateEphemeral();
        using var other = SigningKey.CreateEphemeral();
        var signed = CheckpointNote.Sign(new Checkpoint(Checkpoint.OriginFor(key.PublicKey), 42, new byte[32]), key);

        var bigger = signed.Note.Replace("\n42\n", "\n43\n", StringComparison.Ordinal);
        Assert.Equal(RegistryErrorCodes.CheckpointSignature, CheckpointNote.Verify(bigger, key.PublicKey).ErrorCode);

        var lines = signed.Note.Split('\n');
        var sig = Convert.FromBase64String(lines[4].Split(' ')[2]);
        sig[^1] ^= 0x01;
        var badSig = string.Join('\n', lines[..4]) + "\n\u2014 inframind-registry " + Convert.ToBase64String(sig) + "\n";
        Assert.Equal(RegistryErrorCodes.CheckpointSignature, CheckpointNote.Verify(badSig, key.PublicKey).ErrorCode);

        Assert.Equal(RegistryErrorCodes.CheckpointKeyUnknown, CheckpointNote.Verify(signed.Note, other.PublicKey).ErrorCode);
        // The right origin, but no signature line of this key (another key's hash, or another key name): not ours, not altered.
        var foreignHash = (byte[])Convert.FromBase64String(lines[4].Split(' ')[2]).Clone();
        foreignHash[0] ^= 0xff;
        var noneOfOurs = string.Join('\n', lines[..4]) + "\n\u2014 inframind-registry " + Convert.ToBase64String(foreignHash) + "\n\u2014 another-name " + lines[4].Split(' ')[2] + "\n";
        var unknown = CheckpointNote.Verify(noneOfOurs, key.PublicKey);
        Assert.Equal(RegistryErrorCodes.CheckpointKeyUnknown, unknown.ErrorCode);
        Assert.Contains("has no signature by registry key", unknown.Reason, StringComparison.Ordinal);
        // A signature line of ours after one of another key still verifies.
        Assert.True(CheckpointNote.Verify(string.Join('\n', lines[..4]) + "\n\u2014 inframind-registry " + Convert.ToBase64String(foreignHash) + "\n" + lines[4] + "\n", key.PublicKey).IsValid);
        Assert.Equal(RegistryErrorCodes.CheckpointMalformed, CheckpointNote.Verify("no blank line", key.PublicKey).ErrorCode);
        Assert.Equal(RegistryErrorCodes.CheckpointMalformed, CheckpointNote.Verify(signed.Note.Replace("\n42\n", "\nforty\n", StringComparison.Ordinal), key.PublicKey).ErrorCode);
    }
}
