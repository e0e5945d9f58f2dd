using System.CommandLine;
using System.CommandLine.Parsing;

namespace InfraMind.Cli;

/// <summary>Rules on the value of a typed option (a range, a sign), reported as usage errors (IM0002).</summary>
internal static class OptionRules
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
    /// A usage error for an image name (<c>--image NAME:VERSION</c>) that is empty or holds white space, as none does:
    /// the engine's client refused an empty one with an exception (reported as IM0001, a defect), and the engine a
    /// spaced one as a refused request (IM3008, exit 3, as if the engine were at fault).
    /// </summary>
    public static void RequireImageName(this Option option)
    {
        ArgumentNullException.ThrowIfNull(option);
        option.Validators.Add(r =>
        {
            foreach (var value in r.Tokens.Select(t => t.Value))
                if (value.Length == 0 || value.Any(char.IsWhiteSpace))
                    r.AddError($"{option.Name}: '{value}' is not an image name: write NAME:VERSION as `docker image ls` lists it, or an image id");
        });
    }

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
