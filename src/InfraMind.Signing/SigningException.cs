namespace InfraMind.Signing;

/// <summary>Stable error codes of the signing layer (IM50xx), documented in docs/errors.md. Never renumber: users search for them.</summary>
public static class SigningErrorCodes
{
    public static readonly ErrorCode InvalidKeyName = new("IM5001", FailureKind.Usage,
        "a key name is 1-64 characters: lowercase letters, digits, '.', '_' and '-', starting with a letter or digit");

    public static readonly ErrorCode KeyNotFound = new("IM5002", FailureKind.Usage,
        "create it with `infra keys generate --name NAME`; `infra keys list` shows the keys there are");

    public static readonly ErrorCode KeyExists = new("IM5003", FailureKind.CheckFailed,
        "choose another --name; `infra keys list` shows the keys there are");

    public static readonly ErrorCode PassphraseRequired = new("IM5004", FailureKind.Usage,
        "put the passphrase in an environment variable and name it with --passphrase-from-env VARIABLE");

    public static readonly ErrorCode PrivateKeyInvalid = new("IM5007", FailureKind.CheckFailed,
        "the file must hold a secp256k1 private key as 64 hex digits (with or without 0x), as dev chains print it");

    public static readonly ErrorCode UnsupportedKeyType = new("IM5008", FailureKind.Usage,
        "key types are p256 (the default) and secp256k1; an on-chain registry needs a secp256k1 key: `infra keys generate --name NAME --type secp256k1`");

    /// <summary>The fix for an envelope that does not parse as `infra publish` writes it (IM5010, IM5011, IM5012, IM5014).</summary>
    private const string AlteredEnvelope = "the envelope was altered or not written by `infra publish`: fetch it again, or ask the publisher to publish again";

    public static readonly ErrorCode WrongPassphrase = new("IM5005", FailureKind.CheckFailed,
        "set the environment variable --passphrase-from-env names (--payer-passphrase-from-env for a payer key) to the passphrase the key was encrypted with");
    public static readonly ErrorCode KeyFileCorrupt = new("IM5006", FailureKind.CheckFailed,
        "restore the key's files from a backup; a key made anew (`infra keys generate`) has another fingerprint, and the names the old key published stay its own");
    public static readonly ErrorCode EnvelopeMalformed = new("IM5010", FailureKind.CheckFailed,
        AlteredEnvelope);
    public static readonly ErrorCode PayloadBase64 = new("IM5011", FailureKind.CheckFailed,
        AlteredEnvelope);
    public static readonly ErrorCode WrongPayloadType = new("IM5012", FailureKind.CheckFailed,
        AlteredEnvelope);
    public static readonly ErrorCode NoSignatures = new("IM5013", FailureKind.CheckFailed,
        "sign it: `infra publish --key NAME`");
    public static readonly ErrorCode SignatureBase64 = new("IM5014", FailureKind.CheckFailed,
        AlteredEnvelope);
    public static readonly ErrorCode KeyIdMismatch = new("IM5015", FailureKind.CheckFailed,
        "verify with the key of the publisher who signed it, or ask the publisher which key that is");
    public static readonly ErrorCode SignatureMismatch = new("IM5016", FailureKind.CheckFailed,
        "do not use this content: fetch it again from a source you trust, or ask the publisher which key signed it");
    public static readonly ErrorCode StatementSchema = new("IM5017", FailureKind.CheckFailed,
        "the statement was altered or not written by `infra publish`: ask the publisher to publish again");
    public static readonly ErrorCode UnexpectedPublisher = new("IM5018", FailureKind.CheckFailed,
        "the statement names another publisher: verify with that publisher's key, or do not trust it");
    public static readonly ErrorCode PublicKeyInvalid = new("IM5019", FailureKind.CheckFailed,
        "give the public key PEM file (`-----BEGIN PUBLIC KEY-----`): a publisher's is the file `infra keys list --json` names as publicKey");

    /// <summary>A Sigstore bundle that is not a v0.3 bundle of one DSSE envelope with a public-key hint (what InfraMind attaches to images).</summary>
    public static readonly ErrorCode BundleMalformed = new("IM5020", FailureKind.CheckFailed,
        "the referrer was not written by `infra publish`, or was altered: publish again to attach a fresh one");
}

/// <summary>A signing failure a user can hit: a typed code, a message that says what and where, a hint.</summary>
public sealed class SigningException(ErrorCode code, string message, Exception? innerException = null, string? hint = null)
    : InfraMindException(code, message, hint, innerException);
