using InfraMind.Registry.Checkpoints;
using InfraMind.Signing;

namespace InfraMind.Registry.Tests.Checkpoints;

/// <summary>
/// A checkpoint note is what a registry, possibly a hostile one, answers: every way of breaking its C2SP layout is
/// refused with its code and a reason that names the broken part, never an exception (found unproven by
/// scripts/mutation.sh proofs: a body of two lines, a root that is not 32 bytes of base64, a signature line of the
/// wrong form each had no test).
/// </summary>
public sealed class CheckpointNoteBoundaryTests : IDisposable
{
    private readonly SigningKey _key = SigningKey.CreateEphemeral("registry");

    public void Dispose() => _key.Dispose();

    private string Origin => Checkpoint.OriginFor(_key.PublicKey);

    private static readonly string Root = Convert.ToBase64String(new byte[32]);

    /// <summary>The signature line of <paramref name="body"/> signed by this test's key, as a registry writes it.</summary>
    private string SignatureLine(string body, SigningKey? key = null)
    {
        key ??= _key;
        var note = CheckpointNote.Sign(new Checkpoint("x", 1, new byte[32]), key).Note;
        var keyHash = Convert.FromBase64String(note.Split('\n')[4].Split(' ')[2]).AsSpan(0, 4).ToArray();
        var sig = key.Sign(System.Text.Encoding.UTF8.GetBytes(body));
        return "\u2014 inframind-registry " + Convert.ToBase64String(keyHash.Concat(sig).ToArray());
    }

    /// <summary>A note of <paramref name="body"/> with a valid signature of ours over it.</summary>
    private string Signed(string body) => body + "\n" + SignatureLine(body) + "\n";

    public static TheoryData<string, string, string> Malformed() => new()
    {
        // name, the note (ORIGIN, ROOT and SIG(body) filled in), the reason's fragment
        { "no blank line", "ORIGIN\n1\nROOT\n", "no blank line between body and signatures" },
        { "body of two lines", "ORIGIN\n1\n\nSIG", "body needs three lines" },
        { "blank line first", "\n\nORIGIN\n1\nROOT\n", "body needs three lines" },
        { "size with a leading zero", "ORIGIN\n01\nROOT\n\nSIG", "tree size '01' is not a decimal number" },
        { "size with a sign", "ORIGIN\n+1\nROOT\n\nSIG", "tree size '+1' is not a decimal number" },
        { "negative size", "ORIGIN\n-1\nROOT\n\nSIG", "tree size '-1' is not a decimal number" },
        { "size with a space", "ORIGIN\n 1\nROOT\n\nSIG", "tree size ' 1' is not a decimal number" },
        { "size past a long", "ORIGIN\n9223372036854775808\nROOT\n\nSIG", "is not a decimal number" },
        { "empty size line", "ORIGIN\n\nROOT\n\nSIG", "body needs three lines" },
        { "root not base64", "ORIGIN\n1\nnot*base64\n\nSIG", "root hash is not base64" },
        { "root of 31 bytes", "ORIGIN\n1\n" + Convert.ToBase64String(new byte[31]) + "\n\nSIG", "root hash is 31 bytes, expected 32" },
        { "root of 33 bytes", "ORIGIN\n1\n" + Convert.ToBase64String(new byte[33]) + "\n\nSIG", "root hash is 33 bytes, expected 32" },
        { "signature line without the dash", "ORIGIN\n1\nROOT\n\n- inframind-registry AAAA", "does not start with '— '" },
        { "our key name, signature not base64", "ORIGIN\n1\nROOT\n\n\u2014 inframind-registry not*base64", "signature is not base64" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void A_malformed_note_is_IM5110_naming_the_broken_part(string name, string template, string reason)
    {
        var note = Fill(template);
        var verification = CheckpointNote.Verify(note, _key.PublicKey);
        Assert.False(verification.IsValid, name);
        Assert.Null(verification.Checkpoint);
        Assert.Equal(RegistryErrorCodes.CheckpointMalformed, verification.ErrorCode);
        Assert.Contains(reason, verification.Reason, StringComparison.Ordinal);

        // As clients meet it: a RegistryException with the code and the key, never another exception.
        var e = Assert.Throws<RegistryException>(() => SignedCheckpoint.Verify(note, _key.PublicKey));
        Assert.Equal(RegistryErrorCodes.CheckpointMalformed, e.Code);
        Assert.Contains(_key.PublicKey.Fingerprint, e.Message, StringComparison.Ordinal);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    private string Fill(string template)
    {
        var withBody = template.Replace("ORIGIN", Origin, StringComparison.Ordinal).Replace("ROOT", Root, StringComparison.Ordinal);
        var split = withBody.IndexOf("\n\n", StringComparison.Ordinal);
        return split < 0 ? withBody : withBody.Replace("SIG", SignatureLine(withBody[..(split + 1)]), StringComparison.Ordinal);
    }

    [Fact]
    public void Size_zero_is_a_decimal_number_and_verifies()
    {
        var verified = CheckpointNote.Verify(Signed($"{Origin}\n0\n{Root}\n"), _key.PublicKey);
        Assert.True(verified.IsValid, verified.Reason);
        Assert.Equal(0, verified.Checkpoint!.Size);
        Assert.Equal(long.MaxValue, CheckpointNote.Verify(Signed($"{Origin}\n{long.MaxValue}\n{Root}\n"), _key.PublicKey).Checkpoint!.Size);
    }

    [Fact]
    public void Another_origin_is_IM5112_naming_both()
    {
        var verification = CheckpointNote.Verify(Signed($"inframind registry sha256:{new string('0', 64)}\n1\n{Root}\n"), _key.PublicKey);
        Assert.Equal(RegistryErrorCodes.CheckpointKeyUnknown, verification.ErrorCode);
        Assert.Contains($"origin is 'inframind registry sha256:{new string('0', 64)}', expected '{Origin}'", verification.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Signature_lines_of_another_form_are_not_ours_and_a_short_one_of_ours_is_a_bad_signature()
    {
        var body = $"{Origin}\n1\n{Root}\n";
        var good = SignatureLine(body);
        var blob = Convert.FromBase64String(good.Split(' ')[2]);

        // Three fields (name, signature, more): not a C2SP signature line of ours, even with our valid signature in it.
        var extra = CheckpointNote.Verify(body + "\n" + good + " more\n", _key.PublicKey);
        Assert.Equal(RegistryErrorCodes.CheckpointKeyUnknown, extra.ErrorCode);
        // Our name with fewer bytes than a key hash, or the key hash alone: not ours either (and never read past the end).
        foreach (var length in new[] { 0, 3, 4 })
        {
            var v = CheckpointNote.Verify(body + "\n\u2014 inframind-registry " + Convert.ToBase64String(blob.AsSpan(0, length)) + "\n", _key.PublicKey);
            Assert.Equal(RegistryErrorCodes.CheckpointKeyUnknown, v.ErrorCode);
        }

        // Our key hash and one byte of signature: ours, and it does not verify.
        var one = CheckpointNote.Verify(body + "\n\u2014 inframind-registry " + Convert.ToBase64String(blob.AsSpan(0, 5)) + "\n", _key.PublicKey);
        Assert.Equal(RegistryErrorCodes.CheckpointSignature, one.ErrorCode);
        Assert.Contains("does not verify with registry key " + _key.PublicKey.Fingerprint, one.Reason, StringComparison.Ordinal);

        // A valid one verifies and says by whom.
        var valid = CheckpointNote.Verify(body + "\n" + good + "\n", _key.PublicKey);
        Assert.True(valid.IsValid, valid.Reason);
        Assert.Equal("checkpoint signed by " + _key.PublicKey.Fingerprint, valid.Reason);
    }
}
