using System.Text;

namespace InfraMind.Storage.Registry;

/// <summary>One challenge of a <c>WWW-Authenticate</c> header: a scheme (Basic, Bearer) and its parameters.</summary>
internal sealed record AuthChallenge(string Scheme, IReadOnlyDictionary<string, string> Parameters)
{
    public string? Realm => Parameters.GetValueOrDefault("realm");

    public string? Service => Parameters.GetValueOrDefault("service");

    public string? Scope => Parameters.GetValueOrDefault("scope");

    /// <summary>
    /// Parses a header value such as <c>Bearer realm="https://auth/token",service="registry",scope="repository:a:pull"</c>
    /// (RFC 7235: several challenges may share one header; quoted strings may hold commas and escapes).
    /// </summary>
    public static IReadOnlyList<AuthChallenge> Parse(string header)
    {
        ArgumentNullException.ThrowIfNull(header);
        var challenges = new List<AuthChallenge>();
        int i = 0;
        string? scheme = null;
        var parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        while (i < header.Length)
        {
            SkipSpaceAndCommas(header, ref i);
            if (i >= header.Length)
            {
                break;
            }

            string token = ReadToken(header, ref i);
            SkipSpace(header, ref i);
            if (i < header.Length && header[i] == '=' && scheme is not null)
            {
                i++;
                SkipSpace(header, ref i);
                parameters[token] = i < header.Length && header[i] == '"' ? ReadQuoted(header, ref i) : ReadToken(header, ref i);
            }
            else if (token.Length > 0)
            {
                if (scheme is not null)
                {
                    challenges.Add(new AuthChallenge(scheme, parameters));
                    parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                }

                scheme = token;
            }
            else
            {
                i++;
            }
        }

        if (scheme is not null)
        {
            challenges.Add(new AuthChallenge(scheme, parameters));
        }

        return challenges;
    }

    private static void SkipSpace(string s, ref int i)
    {
        while (i < s.Length && s[i] is ' ' or '\t')
        {
            i++;
        }
    }

    private static void SkipSpaceAndCommas(string s, ref int i)
    {
        while (i < s.Length && s[i] is ' ' or '\t' or ',')
        {
            i++;
        }
    }

    private static string ReadToken(string s, ref int i)
    {
        int start = i;
        while (i < s.Length && s[i] is not (' ' or '\t' or ',' or '=' or '"'))
        {
            i++;
        }

        return s[start..i];
    }

    private static string ReadQuoted(string s, ref int i)
    {
        var value = new StringBuilder();
        i++;
        while (i < s.Length && s[i] != '"')
        {
            if (s[i] == '\\' && i + 1 < s.Length)
            {
                i++;
            }

            value.Append(s[i++]);
        }

        i++;
        return value.ToString();
    }
}
