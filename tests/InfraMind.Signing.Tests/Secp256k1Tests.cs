using System.Formats.Asn1;
using System.Security.Cryptography;
using Nethereum.Signer;

namespace InfraMind.Signing.Tests;

/// <summary>secp256k1 keys: the deployer identity of the on-chain registry, for DSSE statements and chain records alike.</summary>
public sealed class Secp256k1Tests
{
    // ganache --wallet.deterministic, account 0: the key and the address every dev chain tool prints.
    private const string GanacheKey0 = "0x4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d";
    private const string GanacheAddress0 = "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1";

    [Fact]
    public void Generate_secp256k1_writes_pkcs8_0600_and_lists_type_and_address()
    {
        using var dir = new TempDirectory();
        var store = new KeyStore(dir.Path);
        var info = store.Generate("chain", type: KeyType.Secp256k1);
        Assert.Equal(KeyType.Secp256k1, info.Type);
        Assert.Matches("^0x[0-9a-fA-F]{40}$", info.Address!);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(info.PrivateKeyPath));
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(info.PrivateKeyPath), StringComparison.Ordinal);

        // An independent derivation of the address from the stored private scalar.
        using var key = store.Load("chain");
        Assert.Equal(KeyType.Secp256k1, key.Type);
        Assert.Equal(new EthECKey(key.ExportSecp256k1Scalar(), true).GetPublicAddress(), info.Address);

        store.Generate("plain");
        var listed = store.List();
        Assert.Equal([("chain", KeyType.Secp256k1, info.Address), ("plain", KeyType.P256, null)], listed.Select(k => (k.Name, k.Type, k.Address)));
    }

    [Theory]
    [InlineData(GanacheKey0)]
    [InlineData("4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d")]
    [InlineData("  0X4F3EDF983AC636A65A842CE7C78D9AA706D3B113BCE9C46F30D7D21715B23B1D\n")]
    public void Import_accepts_hex_with_or_without_0x(string hex)
    {
        using var dir = new TempDirectory();
        var store = new KeyStore(dir.Path);
        var file = Path.Combine(dir.Path, "k.hex");
        File.WriteAllText(file, hex);
        var info = store.ImportSecp256k1File("dev0", file);
        Assert.Equal(GanacheAddress0, info.Address);
        Assert.Equal(GanacheAddress0, store.LoadPublic("dev0").EthereumAddress);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(info.PrivateKeyPath));
        using var key = store.Load("dev0");
        Assert.Equal(Convert.FromHexString(GanacheKey0[2..]), key.ExportSecp256k1Scalar());
    }

    [Theory]
    [InlineData("", "nothing")]
    [InlineData("0x1234", "4 characters")]
    [InlineData("0x4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23bzz", "not all hex digits")]
    [InlineData("0x0000000000000000000000000000000000000000000000000000000000000000", "curve order")]
    [InlineData("0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", "curve order")]
    public void Import_refuses_what_is_not_a_secp256k1_scalar(string hex, string reason)
    {
        using var dir = new TempDirectory();
        var store = new KeyStore(dir.Path);
        var ex = Assert.Throws<SigningException>(() => store.ImportSecp256k1("bad", hex));
        Assert.Equal(SigningErrorCodes.PrivateKeyInvalid, ex.Code);
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
        Assert.Empty(store.List());
    }

    [Fact]
    public void Import_names_a_missing_or_oversized_file_and_never_overwrites()
    {
        using var dir = new TempDirectory();
        var store = new KeyStore(Path.Combine(dir.Path, "keys"));
        var missing = Assert.Throws<SigningException>(() => store.ImportSecp256k1File("a", Path.Combine(dir.Path, "nope")));
        Assert.Equal(SigningErrorCodes.PrivateKeyInvalid, missing.Code);
        Assert.Contains("does not exist", missing.Message, StringComparison.Ordinal);

        var big = Path.Combine(dir.Path, "big");
        File.WriteAllText(big, new string('a', 5000));
        Assert.Contains("at most 4096", Assert.Throws<SigningException>(() => store.ImportSecp256k1File("a", big)).Message, StringComparison.Ordinal);
        // A device reports no length and never ends: read to the bound and refused (it ran out of memory before).
        Assert.Contains("more than 4096 bytes", Assert.Throws<SigningException>(() => store.ImportSecp256k1File("a", "/dev/zero")).Message, StringComparison.Ordinal);

        store.ImportSecp256k1("a", GanacheKey0);
        Assert.Equal(SigningErrorCodes.KeyExists, Assert.Throws<SigningException>(() => store.ImportSecp256k1("a", GanacheKey0)).Code);
    }

    [Fact]
    public void Encrypted_secp256k1_key_round_trips()
    {
        using var dir = new TempDirectory();
        var store = new KeyStore(dir.Path);
        var info = store.ImportSecp256k1("enc", GanacheKey0, "pass phrase");
        Assert.True(info.Encrypted);
        Assert.Equal(SigningErrorCodes.PassphraseRequired, Assert.Throws<SigningException>(() => store.Load("enc")).Code);
        using var key = store.Load("enc", "pass phrase");
        Assert.Equal(GanacheAddress0, key.PublicKey.EthereumAddress);
    }

    [Fact]
    public void Dsse_statement_signed_with_secp256k1_verifies_and_tampering_does_not()
    {
        using var key = SigningKey.CreateEphemeral("deployer", KeyType.Secp256k1);
        var statement = DsseTests.Statement(key.PublicKey);
        var envelope = Dsse.SignPublish(statement, key);

        var ok = Dsse.VerifyPublish(envelope);
        Assert.True(ok.IsValid, ok.Reason);
        Assert.Equal(key.PublicKey, ok.Statement!.Publisher);
        Assert.Equal(KeyType.Secp256k1, ok.Statement.Publisher.Type);

        // Through JSON and back: the publisher's secp256k1 SubjectPublicKeyInfo travels in the statement.
        var parsed = Dsse.VerifyPublish(System.Text.Encoding.UTF8.GetString(envelope.ToCanonicalJson()));
        Assert.True(parsed.IsValid, parsed.Reason);

        var payload = System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(envelope.Payload.Span).Replace("0.4.2", "0.4.3", StringComparison.Ordinal));
        var tampered = new DsseEnvelope(envelope.PayloadType, payload, envelope.Signatures);
        Assert.Equal(SigningErrorCodes.SignatureMismatch, Dsse.VerifyPublish(tampered).ErrorCode);

        using var other = SigningKey.CreateEphemeral("other", KeyType.Secp256k1);
        Assert.Equal(SigningErrorCodes.UnexpectedPublisher, Dsse.VerifyPublish(envelope, other.PublicKey).ErrorCode);
    }

    [Fact]
    public void Secp256k1_signature_verifies_with_an_independent_implementation()
    {
        using var key = SigningKey.FromSecp256k1Scalar("dev0", Convert.FromHexString(GanacheKey0[2..]));
        var data = "DSSEv1 28 application/vnd.in-toto+json 2 {}"u8.ToArray();
        var der = key.Sign(data);
        var (r, s) = ReadDer(der);
        var nethereum = new EthECKey(GanacheKey0);
        Assert.True(nethereum.Verify(SHA256.HashData(data), EthECDSASignatureFactory.FromComponents(r, s)));
        Assert.Equal(GanacheAddress0, key.PublicKey.EthereumAddress);

        // And the other way: a signature made by Nethereum verifies with the .NET public key.
        var theirs = nethereum.Sign(SHA256.HashData(data));
        Assert.True(key.PublicKey.Verify(data, theirs.ToDER()));
    }

    [Fact]
    public void Public_key_pem_of_either_curve_parses_and_other_curves_do_not()
    {
        using var k1 = SigningKey.CreateEphemeral("a", KeyType.Secp256k1);
        Assert.Equal(k1.PublicKey, PublicKey.FromPem(k1.PublicKey.ToPem()));
        Assert.Equal(k1.PublicKey, PublicKey.FromBase64(k1.PublicKey.SubjectPublicKeyInfoBase64));
        using var p256 = SigningKey.CreateEphemeral("b");
        Assert.Null(p256.PublicKey.EthereumAddress);
        Assert.Equal(SigningErrorCodes.UnsupportedKeyType, Assert.Throws<SigningException>(() => p256.ExportSecp256k1Scalar()).Code);

        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        Assert.Equal(SigningErrorCodes.PublicKeyInvalid, Assert.Throws<SigningException>(() => PublicKey.FromSubjectPublicKeyInfo(p384.ExportSubjectPublicKeyInfo())).Code);
    }

    [Theory]
    [InlineData("p256", KeyType.P256)]
    [InlineData("P-256", KeyType.P256)]
    [InlineData("secp256k1", KeyType.Secp256k1)]
    [InlineData("SECP256K1", KeyType.Secp256k1)]
    public void Key_type_names_parse(string name, KeyType type) => Assert.Equal(type, KeyTypes.Parse(name));

    [Fact]
    public void Unknown_key_type_is_a_clear_error() =>
        Assert.Equal(SigningErrorCodes.UnsupportedKeyType, Assert.Throws<SigningException>(() => KeyTypes.Parse("ed25519")).Code);

    private static (byte[] R, byte[] S) ReadDer(byte[] der)
    {
        var reader = new AsnReader(der, AsnEncodingRules.DER).ReadSequence();
        return (reader.ReadIntegerBytes().ToArray().SkipWhile(b => b == 0).ToArray(), reader.ReadIntegerBytes().ToArray().SkipWhile(b => b == 0).ToArray());
    }

    [Fact]
    public void A_scalar_with_leading_zero_bytes_is_exported_as_its_32_bytes()
    {
        // One key in 256 has a scalar below 2^248: the chain backend signs with all 32 bytes, zeros first, or the
        // Ethereum address it derives is another account's.
        var scalar = new byte[32];
        scalar[2] = 0x01;
        scalar[31] = 0x2a;
        using var key = SigningKey.FromSecp256k1Scalar("small", scalar);
        Assert.Equal(scalar, key.ExportSecp256k1Scalar());
        Assert.Equal(new EthECKey(scalar, true).GetPublicAddress(), key.PublicKey.EthereumAddress);
    }
}
