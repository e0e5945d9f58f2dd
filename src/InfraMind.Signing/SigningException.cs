namespace InfraMind.Signing;

/// <summary>Stable error codes of the signing layer (IM50xx). Never renumber: users search for them.</summary>
public static class SigningErrorCodes
{
    public const string InvalidKeyName = "IM5001";
    public const string KeyNotFound = "IM5002";
    public const string KeyExists = "IM5003";
    public const string PassphraseRequired = "IM5004";
    public const string WrongPassphrase = "IM5005";
    public const string KeyFileCorrupt = "IM5006";
    public const string PrivateKeyInvalid = "IM5007";
    public const string UnsupportedKeyType = "IM5008";
    public const string EnvelopeMalformed = "IM5010";
    public const string PayloadBase64 = "IM5011";
    public const string WrongPayloadType = "IM5012";
    public const string NoSignatures = "IM5013";
    public const string SignatureBase64 = "IM5014";
    public const string KeyIdMismatch = "IM5015";
    public const string SignatureMismatch = "IM5016";
    public const string StatementSchema = "IM5017";
    public const string UnexpectedPublisher = "IM5018";
    public const string PublicKeyInvalid = "IM5019";
}

/// <summary>A failure a user can hit; <see cref="Exception.Message"/> starts with the code and says how to fix it.</summary>
public sealed class SigningException : Exception
{
    public SigningException(string code, string message)
        : base($"{code}: {message}")
    {
        Code = code;
        Reason = message;
    }

    public SigningException(string code, string message, Exception inner)
        : base($"{code}: {message}", inner)
    {
        Code = code;
        Reason = message;
    }

    public SigningException()
        : this("IM5000", "signing error")
    {
    }

    public SigningException(string message)
        : this("IM5000", message)
    {
    }

    public SigningException(string message, Exception inner)
        : this("IM5000", message, inner)
    {
    }

    public string Code { get; }

    /// <summary>The message without its code prefix.</summary>
    public string Reason { get; }
}
