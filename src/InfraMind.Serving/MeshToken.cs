namespace InfraMind.Serving;

/// <summary>
/// The mesh's shared secret. A node sends it (Authorization: Bearer) with its registration and heartbeats, and the
/// gateway with every job it sends through a node's job API; without it any local process could register as a node
/// and be sent users' inputs, or reach a model through a node without the gateway's checks.
/// </summary>
public static class MeshToken
{
    /// <summary>The authentication scheme: the WWW-Authenticate challenge of a refusal, and the Authorization prefix.</summary>
    public const string Challenge = "Bearer";

    private const string Scheme = Challenge + " ";

    /// <summary>256 random bits, base64url.</summary>
    public static string Create() => System.Buffers.Text.Base64Url.EncodeToString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    /// <summary>At least 16 characters and no white space: anything shorter is guessable, and white space cannot travel in the header.</summary>
    public static bool IsWellFormed(string token) => token.Length >= 16 && !token.Any(char.IsWhiteSpace);

    /// <summary>
    /// A credential a node may propose for itself (<see cref="Create"/>'s form: at least 256 bits, base64url, at most 128
    /// characters): a gateway binds such a proposal to a new id rather than making one, so that a node whose registration
    /// answer was lost registers again with the credential the gateway bound.
    /// </summary>
    public static bool IsProposable(string token) => token.Length is >= 43 and <= 128 && token.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    /// <summary>The Authorization header value carrying <paramref name="token"/>.</summary>
    public static string Header(string token) => Scheme + token;

    /// <summary>Sets the Authorization header to carry <paramref name="token"/>; no token, no header.</summary>
    public static void Authorize(System.Net.Http.Headers.HttpRequestHeaders headers, string? token)
    {
        if (token is not null) headers.Authorization = System.Net.Http.Headers.AuthenticationHeaderValue.Parse(Header(token));
    }

    /// <summary>True when no token is required, or <paramref name="authorization"/> carries it (compared in constant time).</summary>
    public static bool Admits(string? required, string? authorization)
    {
        if (required is null) return true;
        if (authorization is null || !authorization.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase)) return false;
        return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.UTF8.GetBytes(authorization[Scheme.Length..].Trim()), System.Text.Encoding.UTF8.GetBytes(required));
    }

    /// <summary>Most characters of a token file <see cref="Read"/> takes: the token is one line (43 characters as <see cref="Create"/> makes it).</summary>
    public const int MaxFileLength = 4096;

    /// <summary>
    /// A token read from a file: one line, surrounding white space dropped; null when the file holds none. A file of
    /// more than <see cref="MaxFileLength"/> characters is <see cref="InvalidDataException"/>: it is read with that bound,
    /// as a device or a pipe reports no length, and /dev/zero, read whole, ran the process out of memory.
    /// </summary>
    public static string? Read(string file)
    {
        var buffer = new char[MaxFileLength + 1];
        int read;
        using (var reader = new StreamReader(file)) read = reader.ReadBlock(buffer, 0, buffer.Length);
        if (read > MaxFileLength)
            throw new InvalidDataException($"{file} holds more than {MaxFileLength} characters; a mesh token file holds one line, the token");
        var token = new string(buffer, 0, read).Trim();
        return token.Length == 0 ? null : token;
    }
}
