using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace InfraMind.Signing;

/// <summary>Name, fingerprint and curve of a stored key pair; <see cref="Address"/> is the Ethereum address of a secp256k1 key.</summary>
public sealed record KeyInfo(string Name, string Fingerprint, bool Encrypted, string PrivateKeyPath, string PublicKeyPath, KeyType Type = KeyType.P256, string? Address = null);

/// <summary>
/// One key of <see cref="KeyStore.Entries"/>: its <see cref="Key"/>, or the <see cref="Problem"/> that makes its files
/// unusable (IM5006: a file that holds no key, the public key of another private key, a half that is missing), with
/// the paths of the files that are there.
/// </summary>
public sealed record KeyEntry(string Name, KeyInfo? Key, SigningException? Problem, string? PrivateKeyPath, string? PublicKeyPath);

/// <summary>
/// Key pairs in one directory (the CLI passes <c>&lt;home&gt;/keys</c>): <c>NAME.key</c> holds the PKCS#8 private key
/// (encrypted PKCS#8 when a passphrase is given), mode 0600; <c>NAME.pub</c> the SubjectPublicKeyInfo PEM. Keys are
/// ECDSA P-256 (the default) or secp256k1 (the on-chain registry's deployer and payer keys).
/// </summary>
public sealed partial class KeyStore
{
    internal const int Pbkdf2Iterations = 600_000;
    private const string PrivateSuffix = ".key";
    private const string PublicSuffix = ".pub";
    private const string EncryptedPemLabel = "ENCRYPTED PRIVATE KEY";
    private const int MaxImportFileBytes = 4096;

    /// <summary>Most of a key file <see cref="Entries"/> reads: a PEM key is a few hundred bytes.</summary>
    private const int MaxKeyFileBytes = 64 * 1024;

    public KeyStore(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory = Path.GetFullPath(directory);
    }

    public string Directory { get; }

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();

    public static bool IsValidName(string name) => name is not null && NamePattern().IsMatch(name) && !name.Contains("..", StringComparison.Ordinal);

    /// <summary>Generates a key pair (P-256 unless <paramref name="type"/> says otherwise) and writes it atomically; never overwrites an existing key.</summary>
    public KeyInfo Generate(string name, string? passphrase = null, KeyType type = KeyType.P256)
    {
        ValidateName(name);
        using var key = SigningKey.CreateEphemeral(name, type);
        return Store(key, passphrase);
    }

    /// <summary>
    /// Imports a secp256k1 private key given as 64 hex digits, with or without <c>0x</c> (as dev chains print them;
    /// surrounding whitespace ignored), and stores it like a generated key.
    /// </summary>
    public KeyInfo ImportSecp256k1(string name, string privateKeyHex, string? passphrase = null)
    {
        ValidateName(name);
        ArgumentNullException.ThrowIfNull(privateKeyHex);
        var text = privateKeyHex.Trim();
        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            text = text[2..];
        }

        if (text.Length != 64 || !text.All(char.IsAsciiHexDigit))
        {
            throw new SigningException(SigningErrorCodes.PrivateKeyInvalid, $"a secp256k1 private key is 64 hex digits (optionally prefixed with 0x); found {(text.Length == 0 ? "nothing" : $"{text.Length} characters{(text.All(char.IsAsciiHexDigit) ? string.Empty : " that are not all hex digits")}")}.");
        }

        var scalar = Convert.FromHexString(text);
        try
        {
            using var key = SigningKey.FromSecp256k1Scalar(name, scalar);
            return Store(key, passphrase);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(scalar);
        }
    }

    /// <summary>Imports a secp256k1 private key from a file holding its hex (see <see cref="ImportSecp256k1"/>).</summary>
    public KeyInfo ImportSecp256k1File(string name, string privateKeyFile, string? passphrase = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(privateKeyFile);
        string text;
        try
        {
            var info = new FileInfo(privateKeyFile);
            if (!info.Exists)
            {
                throw new SigningException(SigningErrorCodes.PrivateKeyInvalid, $"{privateKeyFile} does not exist; give the file that holds the hex private key.");
            }

            if (info.Length > MaxImportFileBytes)
            {
                throw new SigningException(SigningErrorCodes.PrivateKeyInvalid, $"{privateKeyFile} is {info.Length} bytes; a hex private key file is at most {MaxImportFileBytes}.");
            }

            // Read with the bound too: a device or a pipe (`<(…)`) reports no length, and /dev/zero never ends.
            using var stream = new FileStream(privateKeyFile, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None);
            var buffer = new byte[MaxImportFileBytes + 1];
            var total = 0;
            int read;
            while (total < buffer.Length && (read = stream.Read(buffer, total, buffer.Length - total)) > 0) total += read;
            if (total > MaxImportFileBytes)
            {
                throw new SigningException(SigningErrorCodes.PrivateKeyInvalid, $"{privateKeyFile} holds more than {MaxImportFileBytes} bytes; a hex private key file is at most {MaxImportFileBytes}.");
            }

            text = Encoding.UTF8.GetString(buffer, 0, total).TrimStart('\uFEFF');
            CryptographicOperations.ZeroMemory(buffer);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new SigningException(SigningErrorCodes.PrivateKeyInvalid, $"cannot read {privateKeyFile}: {ex.Message}", ex);
        }

        try
        {
            return ImportSecp256k1(name, text, passphrase);
        }
        catch (SigningException ex) when (ex.Code == SigningErrorCodes.PrivateKeyInvalid)
        {
            throw new SigningException(SigningErrorCodes.PrivateKeyInvalid, $"{privateKeyFile}: {ex.Message}", ex);
        }
    }

    private KeyInfo Store(SigningKey key, string? passphrase)
    {
        var name = key.Name;
        if (passphrase is { Length: 0 })
        {
            throw new SigningException(SigningErrorCodes.PassphraseRequired, "an empty passphrase protects nothing; omit it for an unencrypted key or give a non-empty one.");
        }

        EnsureDirectory();
        var (priv, pub) = Paths(name);
        if (File.Exists(priv) || File.Exists(pub)) throw Exists(name, priv, pub);

        // Each made only where no file is (AtomicFile.CreateOnce): of two processes making one key at once (services
        // starting together, LoadOrGenerate), one makes both files and the other is told the key exists; the private
        // key of one beside the public key of the other was possible while each file was moved into place unchecked.
        if (!AtomicFile.CreateOnce(priv, Encoding.ASCII.GetBytes(key.ExportPrivatePem(passphrase)))) throw Exists(name, priv, pub);
        if (!AtomicFile.CreateOnce(pub, Encoding.ASCII.GetBytes(key.PublicKey.ToPem()), AtomicFile.ReadableByAll))
        {
            File.Delete(priv);
            throw Exists(name, priv, pub);
        }
        return new KeyInfo(name, key.PublicKey.Fingerprint, passphrase is not null, priv, pub, key.Type, key.PublicKey.EthereumAddress);
    }

    private SigningException Exists(string name, string priv, string pub) =>
        new(SigningErrorCodes.KeyExists, $"key '{name}' already exists in {Directory}; choose another name or delete {priv} and {pub} first.");

    /// <summary>Loads the existing key or generates an unencrypted one (a service's own key on first start).</summary>
    public SigningKey LoadOrGenerate(string name)
    {
        ValidateName(name);
        if (!File.Exists(Paths(name).Private))
        {
            try
            {
                Generate(name);
            }
            catch (SigningException ex) when (ex.Code == SigningErrorCodes.KeyExists)
            {
                // Another process won the race; its key is as good as ours.
            }
        }

        return Load(name);
    }

    /// <summary>The usable keys, by name; a key whose files are damaged is left out (<see cref="Entries"/> names it and why).</summary>
    public IReadOnlyList<KeyInfo> List() => [.. Entries().Where(e => e.Key is not null).Select(e => e.Key!)];

    /// <summary>
    /// Every key in the directory by name (a name with a <c>.pub</c> or a <c>.key</c> file), each either usable or with
    /// the problem of its files: one damaged key never hides the others. A public key is read and checked; a private
    /// key beside it too (that it is one and belongs to that public key; an encrypted one only that it is one, as
    /// there is no passphrase to open it). A file is never read past 64 KiB, and one whose length is 0 (a FIFO or a
    /// device reports 0 too) never opened.
    /// </summary>
    public IReadOnlyList<KeyEntry> Entries()
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            return [];
        }

        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var suffix in new[] { PublicSuffix, PrivateSuffix })
        {
            foreach (var file in System.IO.Directory.EnumerateFiles(Directory, "*" + suffix))
            {
                var name = Path.GetFileName(file)[..^suffix.Length];
                if (IsValidName(name))
                {
                    names.Add(name);
                }
            }
        }

        return [.. names.Select(Entry)];
    }

    private KeyEntry Entry(string name)
    {
        var (priv, pub) = Paths(name);
        var hasPrivate = File.Exists(priv);
        var hasPublic = File.Exists(pub);
        try
        {
            if (!hasPublic)
            {
                throw Corrupt($"{pub} is missing: the public key of {priv}");
            }

            PublicKey publicKey;
            try
            {
                publicKey = PublicKey.FromPem(ReadKeyFile(pub));
            }
            catch (SigningException ex) when (ex.Code != SigningErrorCodes.KeyFileCorrupt)
            {
                throw Corrupt($"{pub}: {ex.Message}", ex);
            }

            var encrypted = false;
            if (hasPrivate)
            {
                var pem = ReadKeyFile(priv);
                encrypted = pem.Contains(EncryptedPemLabel, StringComparison.Ordinal);
                if (encrypted)
                {
                    if (!PemEncoding.TryFind(pem, out var fields) || !pem.AsSpan()[fields.Label].SequenceEqual(EncryptedPemLabel))
                    {
                        throw Corrupt($"{priv}: not an encrypted PKCS#8 PEM private key (no readable '-----BEGIN {EncryptedPemLabel}-----' block)");
                    }
                }
                else
                {
                    using var key = Load(name);
                    if (key.PublicKey.Fingerprint != publicKey.Fingerprint)
                    {
                        throw Corrupt($"{priv} and {pub} are not one key pair: the private key's public key is {key.PublicKey.Fingerprint}, {pub} holds {publicKey.Fingerprint}");
                    }
                }
            }

            return new KeyEntry(name, new KeyInfo(name, publicKey.Fingerprint, encrypted, priv, pub, publicKey.Type, publicKey.EthereumAddress), null,
                priv, pub);
        }
        catch (SigningException ex) when (ex.Code == SigningErrorCodes.KeyFileCorrupt)
        {
            return new KeyEntry(name, null, ex, hasPrivate ? priv : null, hasPublic ? pub : null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new KeyEntry(name, null, Corrupt($"cannot read key '{name}' in {Directory}: {ex.Message}", ex), hasPrivate ? priv : null, hasPublic ? pub : null);
        }
    }

    /// <summary>
    /// A key file's text, refused unread when its length (<see cref="BoundedBody.TargetLength"/>) is 0 (empty, or a FIFO,
    /// which would block, or a device) or over 64 KiB. The read itself is bounded too, as a file may grow between the
    /// look and the read.
    /// </summary>
    private static string ReadKeyFile(string path)
    {
        var length = BoundedBody.TargetLength(path);
        if (length == 0)
        {
            throw Corrupt($"{path} is empty (or not a regular file)");
        }

        if (length > MaxKeyFileBytes)
        {
            throw Corrupt($"{path} is {length} bytes, not a key: a PEM key file is a few hundred");
        }

        return BoundedBody.ReadText(path, MaxKeyFileBytes)
            ?? throw Corrupt($"{path} grew past {MaxKeyFileBytes} bytes while it was read, not a key: a PEM key file is a few hundred");
    }

    private static SigningException Corrupt(string message, Exception? innerException = null) =>
        new(SigningErrorCodes.KeyFileCorrupt, message, innerException);

    public PublicKey LoadPublic(string name)
    {
        ValidateName(name);
        var pub = Paths(name).Public;
        if (!File.Exists(pub))
        {
            throw new SigningException(SigningErrorCodes.KeyNotFound, $"no public key '{name}' at {pub}",
                hint: $"create it with `infra keys generate --name {name}`; `infra keys list` shows the keys in {Directory}");
        }

        try
        {
            return PublicKey.FromPemFile(pub);
        }
        catch (SigningException ex)
        {
            throw new SigningException(SigningErrorCodes.KeyFileCorrupt, ex.Message, ex);
        }
    }

    public SigningKey Load(string name, string? passphrase = null)
    {
        ValidateName(name);
        var priv = Paths(name).Private;
        if (!File.Exists(priv))
        {
            throw new SigningException(SigningErrorCodes.KeyNotFound, $"no signing key '{name}' at {priv}",
                hint: $"create it with `infra keys generate --name {name}`; `infra keys list` shows the keys in {Directory}");
        }

        var pem = File.ReadAllText(priv);
        var encrypted = pem.Contains(EncryptedPemLabel, StringComparison.Ordinal);
        var ecdsa = ECDsa.Create();
        try
        {
            if (encrypted)
            {
                if (string.IsNullOrEmpty(passphrase))
                {
                    throw new SigningException(SigningErrorCodes.PassphraseRequired, $"key '{name}' ({priv}) is encrypted and no passphrase was given");
                }

                try
                {
                    ecdsa.ImportFromEncryptedPem(pem, passphrase);
                }
                catch (CryptographicException ex)
                {
                    throw new SigningException(SigningErrorCodes.WrongPassphrase, $"cannot decrypt key '{name}' ({priv}): wrong passphrase.", ex);
                }
            }
            else
            {
                try
                {
                    ecdsa.ImportFromPem(pem);
                }
                catch (Exception ex) when (ex is ArgumentException or CryptographicException)
                {
                    // .NET's own text is about its API ("not the path to such a file. (Parameter 'input')"), not the user's file.
                    throw new SigningException(SigningErrorCodes.KeyFileCorrupt, $"{priv}: not a PKCS#8 PEM private key (no readable '-----BEGIN PRIVATE KEY-----' block)", ex);
                }
            }

            if (KeyTypes.Of(ecdsa) is null)
            {
                throw new SigningException(SigningErrorCodes.KeyFileCorrupt, $"{priv} is neither a P-256 nor a secp256k1 key; InfraMind signs with ECDSA on those two curves only.");
            }

            return new SigningKey(name, ecdsa);
        }
        catch
        {
            ecdsa.Dispose();
            throw;
        }
    }

    private static void ValidateName(string name)
    {
        if (!IsValidName(name))
        {
            throw new SigningException(SigningErrorCodes.InvalidKeyName, $"invalid key name '{name}': use 1-64 characters a-z, 0-9, '.', '_' or '-', starting with a letter or digit.");
        }
    }

    private (string Private, string Public) Paths(string name) =>
        (Path.Combine(Directory, name + PrivateSuffix), Path.Combine(Directory, name + PublicSuffix));

    private void EnsureDirectory()
    {
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(Directory);
        }
        else
        {
            System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }
}
