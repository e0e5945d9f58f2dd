using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InfraMind.Signing;

/// <summary>
/// RFC 8785 (JCS) serialization of <see cref="JsonNode"/> trees: object members sorted by their UTF-16 code units,
/// no whitespace, ECMAScript number formatting, minimal string escaping. Signatures and leaf hashes are computed
/// over these bytes so that verification never depends on how a document was formatted.
/// </summary>
public static class CanonicalJson
{
    public static byte[] Serialize(JsonNode? node)
    {
        var sb = new StringBuilder();
        Write(sb, node);
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    public static string SerializeToString(JsonNode? node)
    {
        var sb = new StringBuilder();
        Write(sb, node);
        return sb.ToString();
    }

    /// <summary>
    /// The canonical JSON of an object whose members are all strings: the bytes <see cref="Serialize"/> gives the
    /// equivalent <see cref="JsonObject"/>, written without building one (a node signs one such payload per answer).
    /// Duplicate names are refused, as a <see cref="JsonObject"/> refuses them.
    /// </summary>
    public static byte[] SerializeStrings(params ReadOnlySpan<KeyValuePair<string, string>> members)
    {
        var sorted = members.ToArray();
        Array.Sort(sorted, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        var length = 2;
        foreach (var (key, value) in sorted) length += key.Length + value.Length + 6;
        var sb = new StringBuilder(length);
        sb.Append('{');
        for (var i = 0; i < sorted.Length; i++)
        {
            if (i > 0)
            {
                if (string.Equals(sorted[i - 1].Key, sorted[i].Key, StringComparison.Ordinal))
                {
                    throw new ArgumentException($"the member name '{sorted[i].Key}' appears twice", nameof(members));
                }

                sb.Append(',');
            }

            WriteString(sb, sorted[i].Key);
            sb.Append(':');
            WriteString(sb, sorted[i].Value);
        }

        sb.Append('}');
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    /// <summary>Parses any JSON text and re-serializes it canonically.</summary>
    public static byte[] Canonicalize(ReadOnlySpan<byte> utf8Json) => Serialize(StrictJson.Parse(utf8Json));

    private static void Write(StringBuilder sb, JsonNode? node)
    {
        switch (node)
        {
            case null:
                sb.Append("null");
                break;
            case JsonObject obj:
                {
                    var members = obj.ToList();
                    members.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
                    sb.Append('{');
                    for (var i = 0; i < members.Count; i++)
                    {
                        if (i > 0)
                        {
                            sb.Append(',');
                        }

                        WriteString(sb, members[i].Key);
                        sb.Append(':');
                        Write(sb, members[i].Value);
                    }

                    sb.Append('}');
                    break;
                }

            case JsonArray array:
                sb.Append('[');
                for (var i = 0; i < array.Count; i++)
                {
                    if (i > 0)
                    {
                        sb.Append(',');
                    }

                    Write(sb, array[i]);
                }

                sb.Append(']');
                break;
            case JsonValue value:
                WriteValue(sb, value);
                break;
            default:
                throw new ArgumentException($"unsupported JSON node {node.GetType().Name}", nameof(node));
        }
    }

    private static void WriteValue(StringBuilder sb, JsonValue value)
    {
        switch (value.GetValueKind())
        {
            case JsonValueKind.String:
                WriteString(sb, value.GetValue<string>());
                break;
            case JsonValueKind.True:
                sb.Append("true");
                break;
            case JsonValueKind.False:
                sb.Append("false");
                break;
            case JsonValueKind.Null:
                sb.Append("null");
                break;
            case JsonValueKind.Number:
                // The raw token is re-read as an IEEE double: JCS defines numbers by their double value.
                var raw = value.ToJsonString();
                var d = double.Parse(raw, NumberStyles.Float, CultureInfo.InvariantCulture);
                sb.Append(FormatNumber(d));
                break;
            default:
                throw new ArgumentException($"unsupported JSON value kind {value.GetValueKind()}", nameof(value));
        }
    }

    /// <summary>ECMAScript Number.prototype.toString (ES2015 7.1.12.1) from the shortest round-trip digits.</summary>
    internal static string FormatNumber(double d)
    {
        if (double.IsNaN(d) || double.IsInfinity(d))
        {
            throw new ArgumentException("NaN and Infinity are not valid JSON numbers (RFC 8785 §3.2.2.3).", nameof(d));
        }

        if (d == 0)
        {
            return "0";
        }

        var negative = d < 0;

        // "R" gives the shortest round-trip digits since .NET Core 3.0, which is what ECMAScript asks for.
        var shortest = Math.Abs(d).ToString("R", CultureInfo.InvariantCulture);
        string mantissa;
        var exponent = 0;
        var ePos = shortest.IndexOfAny(['E', 'e']);
        if (ePos >= 0)
        {
            mantissa = shortest[..ePos];
            exponent = int.Parse(shortest[(ePos + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        }
        else
        {
            mantissa = shortest;
        }

        var dot = mantissa.IndexOf('.', StringComparison.Ordinal);
        var intPart = dot >= 0 ? mantissa[..dot] : mantissa;
        var fracPart = dot >= 0 ? mantissa[(dot + 1)..] : string.Empty;
        var digits = (intPart + fracPart).TrimStart('0');
        var leadingZerosTrimmed = (intPart + fracPart).Length - digits.Length;

        // n: position of the decimal point relative to the start of digits (value = 0.digits × 10^n).
        var n = intPart.Length + exponent - leadingZerosTrimmed;
        digits = digits.TrimEnd('0');
        var k = digits.Length;

        var sb = new StringBuilder();
        if (negative)
        {
            sb.Append('-');
        }

        if (k <= n && n <= 21)
        {
            sb.Append(digits).Append('0', n - k);
        }
        else if (0 < n && n <= 21)
        {
            sb.Append(digits, 0, n).Append('.').Append(digits, n, k - n);
        }
        else if (-6 < n && n <= 0)
        {
            sb.Append("0.").Append('0', -n).Append(digits);
        }
        else
        {
            var e = n - 1;
            sb.Append(digits[0]);
            if (k > 1)
            {
                sb.Append('.').Append(digits, 1, k - 1);
            }

            sb.Append('e').Append(e >= 0 ? '+' : '-').Append(Math.Abs(e).ToString(CultureInfo.InvariantCulture));
        }

        return sb.ToString();
    }

    internal static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"':
                    sb.Append("\\\"");
                    break;
                case '\\':
                    sb.Append("\\\\");
                    break;
                case '\b':
                    sb.Append("\\b");
                    break;
                case '\f':
                    sb.Append("\\f");
                    break;
                case '\n':
                    sb.Append("\\n");
                    break;
                case '\r':
                    sb.Append("\\r");
                    break;
                case '\t':
                    sb.Append("\\t");
                    break;
                default:
                    if (c < 0x20)
                    {
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        sb.Append('"');
    }
}
