using System.CommandLine;
using System.CommandLine.Parsing;

namespace InfraMind.Cli;

/// <summary>Rules on the value of a typed option (a range, a sign), reported as usage errors (IM0002).</summary>
internal static partial class OptionRules
{
    /// <summary>Reports <paramref name="error"/> when the option's value is not <paramref name="valid"/>.</summary>
    /// <remarks>
    /// System.CommandLine runs an option's validators before it reports a value that does not convert to the option's
    /// type (`--cases abc`), and reading that value throws. A rule therefore judges only a value that converted; for one
    /// that did not, the parser's own error is what the user gets.
    /// </remarks>
    public static void Require<T>(this Option<T> option, Func<T, bool> valid, string error)
    {
        ArgumentNullException.ThrowIfNull(option);
        ArgumentNullException.ThrowIfNull(valid);
        option.Validators.Add(r =>
        {
            if (Converted(r, out T value) && !valid(value)) r.AddError(error);
        });
    }

    /// <summary>
    /// A usage error for an image name (<c>--image NAME:VERSION</c>) that the engine's reference grammar does not take:
    /// the engine's client refused an empty one with an exception (reported as IM0001, a defect), and the engine any
    /// other it cannot parse as a refused request (IM3008, exit 3, as if the engine were at fault: "x:", "My/Model:1").
    /// </summary>
    public static void RequireImageName(this Option option)
    {
        ArgumentNullException.ThrowIfNull(option);
        option.Validators.Add(r =>
        {
            foreach (var value in r.Tokens.Select(t => t.Value))
                if (ImageReferenceProblem(value) is { } problem)
                    r.AddError($"{option.Name}: '{value}' is not an image name: {problem}; write NAME[:TAG][@DIGEST] as `docker image ls` lists it (lower case), or an image id");
        });
    }

    /// <summary>
    /// What keeps <paramref name="value"/> from being an image reference as the engine reads one (the distribution
    /// project's grammar: <c>[DOMAIN[:PORT]/]PATH[:TAG][@ALGORITHM:HEX]</c>, the path in lower case, its components
    /// joined by <c>.</c>, <c>_</c>, <c>__</c> or dashes, a tag of at most 128 characters, a name of at most 255); null
    /// when it is one. An image id is a path of hex digits, so it passes as a name does.
    /// </summary>
    internal static string? ImageReferenceProblem(string value)
    {
        if (value.Length == 0) return "it is empty";
        if (value.Any(char.IsWhiteSpace)) return "it holds white space";
        var match = ImageReference().Match(value);
        if (!match.Success)
        {
            if (value.EndsWith(':') || value.Contains(":@", StringComparison.Ordinal)) return "the tag after ':' is empty";
            if (value.Any(char.IsUpper) && ImageReference().IsMatch(value.ToLowerInvariant())) return "the repository name must be lower case";
            return "it does not follow the engine's reference grammar";
        }

        return match.Groups["name"].Length > 255 ? "the name is longer than 255 characters" : null;
    }

    [System.Text.RegularExpressions.GeneratedRegex("""
        ^(?<name>
          (?:(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?/)?
          [a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*
        )
        (?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?
        (?:@[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,})?$
        """, System.Text.RegularExpressions.RegexOptions.IgnorePatternWhitespace | System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex ImageReference();

    /// <summary>
    /// The bytes a size option gives (<c>16Gi</c>, <c>500Mi</c>, <c>1048576</c>), or a usage error naming the option with
    /// <paramref name="hint"/>. A budget (<paramref name="zeroAllowed"/>) may be <c>0</c>, nothing; a quantity of memory may not.
    /// </summary>
    public static long Bytes(ParseResult parse, Option<string> option, string hint, bool zeroAllowed = false)
    {
        ArgumentNullException.ThrowIfNull(parse);
        ArgumentNullException.ThrowIfNull(option);
        var text = parse.GetValue(option)!;
        if (zeroAllowed && text.Trim() == "0") return 0;
        return InfraMind.Manifest.Quantity.TryParseBytes(text, out var bytes, out var error)
            ? bytes
            : throw new InfraMindException(CliErrorCodes.UsageError, $"{option.Name}: {error}", hint);
    }

    private static bool Converted<T>(OptionResult result, out T value)
    {
        try
        {
            value = result.GetValueOrDefault<T>();
            return true;
        }
        catch (InvalidOperationException)
        {
            // the value does not convert: the parser reports it (see the remarks above)
            value = default!;
            return false;
        }
    }
}
