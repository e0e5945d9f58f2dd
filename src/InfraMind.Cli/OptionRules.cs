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
