using System.Globalization;
using System.Text.RegularExpressions;

namespace InfraMind.Manifest;

/// <summary>Kubernetes-style resource quantities, parsed exactly (decimal arithmetic, no floating point drift).</summary>
public static partial class Quantity
{
    private static readonly Dictionary<string, decimal> Suffixes = new(StringComparer.Ordinal)
    {
        [""] = 1m,
        ["k"] = 1e3m, ["M"] = 1e6m, ["G"] = 1e9m, ["T"] = 1e12m, ["P"] = 1e15m, ["E"] = 1e18m,
        ["Ki"] = 1024m, ["Mi"] = 1024m * 1024, ["Gi"] = 1024m * 1024 * 1024, ["Ti"] = 1024m * 1024 * 1024 * 1024,
        ["Pi"] = 1024m * 1024 * 1024 * 1024 * 1024, ["Ei"] = 1024m * 1024 * 1024 * 1024 * 1024 * 1024,
        ["m"] = 1e-3m,
    };

    [GeneratedRegex(@"^(?<num>[0-9]+(\.[0-9]*)?|\.[0-9]+)(?<suffix>[kMGTPE]i?|Ki|m)?$", RegexOptions.CultureInvariant)]
    private static partial Regex QuantityPattern();

    /// <summary>Parses a memory quantity (<c>512Mi</c>, <c>4Gi</c>, <c>1G</c>, <c>1048576</c>) into whole bytes.</summary>
    public static bool TryParseBytes(string text, out long bytes, out string error)
    {
        bytes = 0;
        var m = QuantityPattern().Match(text.Trim());
        if (!m.Success)
        {
            error = $"'{text}' is not a quantity";
            return false;
        }

        var suffix = m.Groups["suffix"].Value;
        if (suffix == "m")
        {
            error = "a size in bytes cannot be given in milli-units ('m' means 1/1000 here, not mega); use Mi or M";
            return false;
        }

        if (!Suffixes.TryGetValue(suffix, out var factor))
        {
            error = $"unknown suffix '{suffix}'";
            return false;
        }

        decimal value;
        try
        {
            value = decimal.Parse(m.Groups["num"].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture) * factor;
        }
        catch (OverflowException)
        {
            error = $"'{text}' is too large";
            return false;
        }

        if (value != decimal.Truncate(value))
        {
            error = $"'{text}' is not a whole number of bytes";
            return false;
        }

        if (value <= 0 || value > long.MaxValue)
        {
            error = value <= 0 ? $"'{text}' must be more than 0 bytes" : $"'{text}' is too large";
            return false;
        }

        bytes = (long)value;
        error = "";
        return true;
    }

    /// <summary>Parses CPU as cores (<c>2</c>, <c>0.5</c>) or millicores (<c>500m</c>) into whole millicores.</summary>
    public static bool TryParseMillicores(string text, out long millicores, out string error)
    {
        millicores = 0;
        var t = text.Trim();
        decimal cores;
        if (t.EndsWith('m'))
        {
            if (!long.TryParse(t.AsSpan(0, t.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var milli))
            {
                error = $"'{text}' is not a whole number of millicores";
                return false;
            }

            cores = milli / 1000m;
        }
        else if (!decimal.TryParse(t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out cores))
        {
            error = $"'{text}' is not a number of cores";
            return false;
        }

        // Beyond a million cores is too large whatever its digits: checked before the multiplication, which overflows
        // near decimal's limit (a fuzzed `cpu` of 29 digits threw OverflowException out of the validator).
        if (cores > 1_000_000m)
        {
            error = $"'{text}' is too large";
            return false;
        }

        var m = cores * 1000m;
        if (m != decimal.Truncate(m))
        {
            error = $"'{text}' is finer than 1 millicore (1m = 0.001 cores)";
            return false;
        }

        if (m <= 0 || m > 1_000_000_000)
        {
            error = m <= 0 ? "cpu must be greater than 0" : $"'{text}' is too large";
            return false;
        }

        millicores = (long)m;
        error = "";
        return true;
    }

    /// <summary>The longest readiness timeout, in model.yaml's <c>timeout</c> and on <c>infra test --timeout</c>.</summary>
    public static TimeSpan MaxTimeout { get; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// A readiness timeout as the command line gives it: <c>500ms</c>, <c>3s</c>, <c>2m</c> or a number of seconds, more
    /// than 0 and at most <see cref="MaxTimeout"/> (the same rule as model.yaml's <c>timeout</c>).
    /// </summary>
    public static bool TryParseTimeout(string text, out TimeSpan value, out string error)
    {
        ArgumentNullException.ThrowIfNull(text);
        double? seconds = double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) ? d : null;
        return TryParseTimeout(text, seconds, out value, out error);
    }

    /// <summary>
    /// The one rule of a readiness timeout. <paramref name="seconds"/> is the value when the text is a bare number (in
    /// YAML only an unquoted one is); otherwise the text must be a number with a unit (ms, s, m).
    /// </summary>
    internal static bool TryParseTimeout(string text, double? seconds, out TimeSpan value, out string error)
    {
        value = default;
        error = $"'{text}' is not a duration between 1ms and 10m";
        TimeSpan? parsed = null;
        if (seconds is { } secs)
        {
            if (secs > 0 && secs <= MaxTimeout.TotalSeconds) parsed = TimeSpan.FromSeconds(secs);
        }
        else if (DurationPattern().Match(text.Trim()) is { Success: true } m)
        {
            var n = double.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture);
            var unit = m.Groups["u"].Value;
            var max = unit switch { "ms" => MaxTimeout.TotalMilliseconds, "s" => MaxTimeout.TotalSeconds, _ => MaxTimeout.TotalMinutes };
            if (n <= max) parsed = unit switch { "ms" => TimeSpan.FromMilliseconds(n), "s" => TimeSpan.FromSeconds(n), _ => TimeSpan.FromMinutes(n) };
        }

        if (parsed is not { } v || v <= TimeSpan.Zero || v > MaxTimeout) return false;
        value = v;
        error = "";
        return true;
    }

    [GeneratedRegex(@"^(?<n>[0-9]+(\.[0-9]+)?)(?<u>ms|s|m)$", RegexOptions.CultureInvariant)]
    private static partial Regex DurationPattern();

    public static string FormatBytes(long bytes)
    {
        string[] units = ["Ei", "Pi", "Ti", "Gi", "Mi", "Ki"];
        for (var i = 0; i < units.Length; i++)
        {
            var f = 1L << (10 * (units.Length - i));
            if (bytes % f == 0) return $"{bytes / f}{units[i]}";
        }

        return bytes.ToString(CultureInfo.InvariantCulture);
    }
}
