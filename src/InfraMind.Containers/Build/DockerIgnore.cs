using System.Text;
using System.Text.RegularExpressions;

namespace InfraMind.Containers.Build;

/// <summary>
/// The engine's <c>.dockerignore</c> rules: <c>*</c>, <c>?</c>, <c>[...]</c>, <c>**</c> across directories, <c>!</c>
/// re-includes, the last matching line wins, and a pattern that matches a directory excludes everything under it.
/// Same semantics as the Docker CLI, so that what we send is what <c>docker build</c> would send.
/// </summary>
internal sealed class DockerIgnore
{
    private readonly List<Rule> _rules;

    private DockerIgnore(List<Rule> rules)
    {
        _rules = rules;
    }

    public static DockerIgnore Empty { get; } = new([]);

    public bool HasExceptions => _rules.Any(r => r.Include);

    public static DockerIgnore Load(string contextDir)
    {
        var path = Path.Combine(contextDir, ".dockerignore");
        return File.Exists(path) ? Parse(File.ReadAllText(path)) : Empty;
    }

    public static DockerIgnore Parse(string text)
    {
        var rules = new List<Rule>();
        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var include = false;
            if (line.StartsWith('!'))
            {
                include = true;
                line = line[1..].Trim();
                if (line.Length == 0)
                {
                    continue;
                }
            }

            var pattern = CleanPath(line.Replace('\\', '/'));
            if (pattern.Length > 1 && pattern[0] == '/')
            {
                pattern = pattern[1..];
            }

            rules.Add(new Rule(include, ToRegex(pattern)));
        }

        return new DockerIgnore(rules);
    }

    /// <summary>Whether a context-relative path (with <c>/</c> separators) is left out of the build context.</summary>
    public bool IsExcluded(string relativePath)
    {
        var path = CleanPath(relativePath);
        var parents = ParentPrefixes(path);
        var excluded = false;
        foreach (var rule in _rules)
        {
            // A rule can only change the current verdict: an exclusion when included, a re-inclusion when excluded.
            if (rule.Include != excluded)
            {
                continue;
            }

            var match = rule.Regex.IsMatch(path) || parents.Any(rule.Regex.IsMatch);
            if (match)
            {
                excluded = !rule.Include;
            }
        }

        return excluded;
    }

    private static List<string> ParentPrefixes(string path)
    {
        var result = new List<string>();
        var index = path.IndexOf('/', StringComparison.Ordinal);
        while (index > 0)
        {
            result.Add(path[..index]);
            index = path.IndexOf('/', index + 1);
        }

        return result;
    }

    /// <summary>Lexical cleaning as Go's path.Clean does it: no empty, "." or resolvable ".." elements.</summary>
    internal static string CleanPath(string path)
    {
        var rooted = path.StartsWith('/');
        var parts = new List<string>();
        foreach (var part in path.Split('/'))
        {
            if (part.Length == 0 || part == ".")
            {
                continue;
            }

            if (part == ".." && parts.Count > 0 && parts[^1] != "..")
            {
                parts.RemoveAt(parts.Count - 1);
            }
            else if (part != ".." || !rooted)
            {
                parts.Add(part);
            }
        }

        var joined = string.Join('/', parts);
        return rooted ? "/" + joined : joined.Length == 0 ? "." : joined;
    }

    private static Regex ToRegex(string pattern)
    {
        var sb = new StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            var ch = pattern[i];
            switch (ch)
            {
                case '*' when i + 1 < pattern.Length && pattern[i + 1] == '*':
                    i++;
                    if (i + 1 < pattern.Length && pattern[i + 1] == '/')
                    {
                        i++;
                    }

                    // "**" at the end accepts everything (as .gitignore does); elsewhere any number of directories.
                    sb.Append(i + 1 >= pattern.Length ? ".*" : "(.*/)?");
                    break;
                case '*':
                    sb.Append("[^/]*");
                    break;
                case '?':
                    sb.Append("[^/]");
                    break;
                case '[':
                    var close = pattern.IndexOf(']', i + 1);
                    if (close < 0)
                    {
                        sb.Append(@"\[");
                    }
                    else
                    {
                        var cls = pattern[(i + 1)..close];
                        if (cls.StartsWith('!'))
                        {
                            cls = "^" + cls[1..];
                        }

                        sb.Append('[').Append(cls.Replace(@"\", @"\\", StringComparison.Ordinal)).Append(']');
                        i = close;
                    }

                    break;
                case '\\' when i + 1 < pattern.Length:
                    i++;
                    sb.Append(Regex.Escape(pattern[i].ToString()));
                    break;
                default:
                    sb.Append(Regex.Escape(ch.ToString()));
                    break;
            }
        }

        sb.Append('$');
        return new Regex(sb.ToString(), RegexOptions.CultureInvariant);
    }

    private sealed record Rule(bool Include, Regex Regex);
}
