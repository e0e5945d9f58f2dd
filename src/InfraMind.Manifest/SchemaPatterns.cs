using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Json.Schema;
using Json.Schema.Keywords;

namespace InfraMind.Manifest;

/// <summary>
/// The one rule for regular expressions in model schemas (<c>pattern</c> and the keys of <c>patternProperties</c>):
/// they are matched by .NET's non-backtracking engine, in time linear in the input, so no input a client sends can make
/// the gateway, a node or <c>infra test</c> spend more than that (<c>^(a+)+$</c> doubles per character under a
/// backtracking engine). A pattern that engine cannot run (backreferences, lookarounds, atomic groups, conditionals,
/// an automaton over its size limit) is refused when the manifest is validated (IM1045), so <c>infra validate</c>,
/// <c>infra test</c>, publish and the gateway accept the same patterns and match them the same way.
/// </summary>
/// <remarks>
/// JSON Schema names ECMA-262 regular expressions; the syntax accepted here is .NET's, which agrees on the common
/// subset (literals, classes, escapes, groups, alternation, quantifiers, anchors). Two differences a publisher may meet:
/// <c>\d</c> and <c>\w</c> match any Unicode digit or word character, and lookarounds and backreferences are refused.
/// </remarks>
public static class SchemaPatterns
{
    /// <summary>How every schema pattern is compiled: linear-time matching, culture-independent.</summary>
    public const RegexOptions Options = RegexOptions.NonBacktracking | RegexOptions.CultureInvariant;

    /// <summary>The longest pattern accepted: a schema describes inputs, it does not carry programs.</summary>
    public const int MaxLength = 1000;

    /// <summary>
    /// The most distinct characters and character classes one pattern may name. What the linear-time matcher builds
    /// grows with the square of their number (found by an audit: 181 alternatives of three distinct CJK characters,
    /// 730 characters of pattern, took 1–3 s to compile and kept ~178–273 MB; 64 keep ~4 MB, 128 ~11 MB). Counted on the
    /// pattern's text, before anything is compiled; a class or a range (<c>[a-z]</c>, <c>\p{L}</c>) counts once.
    /// </summary>
    public const int MaxDistinct = 64;

    /// <summary>
    /// The most patterns (<c>pattern</c> values and <c>patternProperties</c> keys) one schema may hold, and the most
    /// distinct characters and classes (<see cref="Distinct"/>) they may name together: each is compiled and kept by
    /// every gateway and node that serves the version, and each keeps a match cache of its own that inputs grow.
    /// </summary>
    public const int MaxPerSchema = 64;

    /// <inheritdoc cref="MaxPerSchema"/>
    public const int MaxDistinctPerSchema = 256;

    /// <summary>
    /// Draft-07 with <c>pattern</c> and <c>patternProperties</c> compiled by <see cref="Create"/>: the dialect every
    /// <see cref="ModelSchema"/> is built with. (JsonSchema.Net 8 compiles them with the backtracking ECMAScript
    /// engine and no time limit; its keyword handlers are replaced by name, the rest of draft-07 is unchanged.)
    /// </summary>
    internal static Dialect Draft07 { get; } = Dialect.Draft07.With([new LinearPattern(), new LinearPatternProperties()]);

    /// <summary>The compiled pattern.</summary>
    /// <exception cref="ArgumentException">when it is not a pattern this rule accepts (<see cref="Problem"/> says why).</exception>
    public static Regex Create(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        return Compile(pattern, out var problem) ?? throw new ArgumentException(problem, nameof(pattern));
    }

    /// <summary>
    /// Why <paramref name="pattern"/> cannot be a schema pattern, or null when it can: in the publisher's terms, which
    /// construct at which character (counted from 1) and how to write it instead, never the matcher's own text.
    /// </summary>
    public static string? Problem(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        return Compile(pattern, out var problem) is null ? problem : null;
    }

    /// <summary>The pattern compiled once, or null with <paramref name="problem"/> saying why.</summary>
    private static Regex? Compile(string pattern, out string? problem)
    {
        problem = null;
        if (pattern.Length > MaxLength)
        {
            problem = $"the pattern is {pattern.Length} characters long; at most {MaxLength} are accepted";
            return null;
        }

        if (Distinct(pattern) is var distinct and > MaxDistinct)
        {
            problem = $"the pattern names {distinct} distinct characters and character classes; at most {MaxDistinct} are accepted (what the " +
                      "linear-time matcher builds grows with the square of their number): match a class or a range, such as [a-z] or \\p{L}, instead of listing characters";
            return null;
        }

        try
        {
            return new Regex(pattern, Options);
        }
        catch (RegexParseException e)
        {
            var (what, fix) = ParseProblem(e.Error);
            problem = $"the pattern is not a regular expression: {what} {Where(pattern, e.Offset)}" + (fix is null ? "" : $"; {fix}");
        }
        catch (NotSupportedException e)
        {
            // Backreferences, lookarounds, atomic groups, conditionals, \G, or an automaton larger than the engine's limit.
            problem = "the pattern cannot be matched in linear time: " + (Unsupported(pattern) ?? Size(pattern, e.Message));
        }
        catch (ArgumentException)
        {
            problem = "the pattern is not a regular expression InfraMind can read";
        }

        return null;
    }

    /// <summary>
    /// How many distinct characters and character classes <paramref name="pattern"/> names, read from its text: an escape
    /// (<c>\u4E00</c>, <c>\d</c>, <c>\p{L}</c>, <c>\.</c>) or a bracketed class counts as what it writes, every other
    /// character that is not syntax as itself; quantifiers' counts are not characters. Counted alike, the same class
    /// written twice counts once.
    /// </summary>
    public static int Distinct(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            switch (c)
            {
                case '\\' when i + 1 < pattern.Length:
                    var length = pattern[i + 1] switch
                    {
                        'u' => 6,
                        'x' => 4,
                        'c' => 3,
                        'p' or 'P' when pattern.IndexOf('}', i) is var end and > 0 => end - i + 1,
                        _ => 2,
                    };
                    length = Math.Min(length, pattern.Length - i);
                    seen.Add(pattern.Substring(i, length));
                    i += length - 1;
                    break;
                case '[':
                    var j = i + 1;
                    if (j < pattern.Length && pattern[j] == '^') j++;
                    if (j < pattern.Length && pattern[j] == ']') j++;
                    while (j < pattern.Length && pattern[j] != ']') j += pattern[j] == '\\' ? 2 : 1;
                    seen.Add(pattern.Substring(i, Math.Min(j + 1, pattern.Length) - i));
                    i = j;
                    break;
                case '{' when QuantifierEnd(pattern, i) is var close and > 0:
                    i = close;
                    break;
                case '(' or ')' or '|' or '*' or '+' or '?' or '^' or '$':
                    break;
                default:
                    seen.Add(c.ToString());
                    break;
            }
        }

        return seen.Count;

        // "{2}", "{2,}", "{2,5}": the index of its "}", or -1 when the brace is a literal one.
        static int QuantifierEnd(string pattern, int open)
        {
            var k = open + 1;
            while (k < pattern.Length && (char.IsAsciiDigit(pattern[k]) || pattern[k] == ',')) k++;
            return k < pattern.Length && pattern[k] == '}' && k > open + 1 ? k : -1;
        }
    }

    /// <summary>"at character 4 ('+')": a parse offset counts the characters read, so it is the 1-based place of the one that failed.</summary>
    private static string Where(string pattern, int offset)
    {
        var at = Math.Clamp(offset, 1, Math.Max(pattern.Length, 1));
        var c = pattern.Length >= at ? pattern[at - 1] : ' ';
        return c is > ' ' and <= '~' ? $"at character {at} ('{c}')" : $"at character {at}";
    }

    /// <summary>What is wrong and how to write it instead, for each way a pattern fails to parse.</summary>
    private static (string What, string? Fix) ParseProblem(RegexParseError error) => error switch
    {
        RegexParseError.UnterminatedBracket => ("a [ that is never closed by ]", "close the class, or write \\[ to match the character"),
        RegexParseError.InsufficientClosingParentheses => ("a ( that is never closed by )", "close the group, or write \\( to match the character"),
        RegexParseError.InsufficientOpeningParentheses => ("a ) with no ( before it", "write \\) to match the character"),
        RegexParseError.QuantifierAfterNothing => ("a repeat (*, +, ? or {n}) with nothing before it to repeat", "write \\*, \\+, \\? or \\{ to match the character"),
        RegexParseError.NestedQuantifiersNotParenthesized => ("two repeats in a row, as in a*+", "group the first, (a*)+, or drop one"),
        RegexParseError.ReversedQuantifierRange => ("a repeat {x,y} whose x is larger than its y", "write the smaller count first"),
        RegexParseError.ReversedCharacterRange => ("a range [x-y] whose x comes after its y", "write the range from its lower character"),
        RegexParseError.ShorthandClassInCharacterRange => ("a range with a class such as \\d at one end", "write \\- to match a hyphen"),
        RegexParseError.ExclusionGroupNotLast => ("a subtraction -[...] that is not the last part of its class", "move it to the end of the class"),
        RegexParseError.UnescapedEndingBackslash => ("a \\ at the end of the pattern", "write \\\\ to match a backslash"),
        RegexParseError.UnrecognizedEscape => ("an unknown escape, \\ before a letter or digit that has no meaning", "escape only punctuation; write a letter or digit as itself"),
        RegexParseError.UnrecognizedControlCharacter or RegexParseError.MissingControlCharacter => ("a \\c escape without a letter A-Z after it", null),
        RegexParseError.InsufficientOrInvalidHexDigits => ("a \\x or \\u escape without its hex digits", "write \\x41 or \\u00e9"),
        RegexParseError.InvalidUnicodePropertyEscape or RegexParseError.MalformedUnicodePropertyEscape => ("a \\p or \\P escape not of the form \\p{Name}", "write \\p{L}, \\p{Lu} or \\p{IsGreek}"),
        RegexParseError.UnrecognizedUnicodeProperty => ("an unknown Unicode category or block in \\p{...}", "name a category such as L, Lu, Nd or a block such as IsGreek, IsCJKUnifiedIdeographs"),
        RegexParseError.QuantifierOrCaptureGroupOutOfRange => ("a repeat count or group number too large", null),
        RegexParseError.UndefinedNamedReference or RegexParseError.UndefinedNumberedReference or RegexParseError.MalformedNamedReference =>
            ("a reference to a group that does not exist", null),
        RegexParseError.InvalidGroupingConstruct => ("a group (? of an unknown kind", "write (?:...) for a group that captures nothing"),
        RegexParseError.UnterminatedComment => ("a comment (?# that is never closed by )", null),
        RegexParseError.CaptureGroupNameInvalid or RegexParseError.CaptureGroupOfZero => ("a group name or number that is not valid", null),
        RegexParseError.AlternationHasTooManyConditions or RegexParseError.AlternationHasMalformedCondition or RegexParseError.AlternationHasNamedCapture or
            RegexParseError.AlternationHasComment or RegexParseError.AlternationHasMalformedReference or RegexParseError.AlternationHasUndefinedReference =>
            ("a malformed conditional (?(...)...|...)", "write the cases as alternatives, a|b"),
        _ => ("a construct InfraMind cannot read", null),
    };

    /// <summary>
    /// The first construct of <paramref name="pattern"/> that linear-time matching cannot run, found by reading the
    /// pattern (escapes and classes skipped), said with how to write it instead; null when there is none.
    /// </summary>
    private static string? Unsupported(string pattern)
    {
        var inClass = 0;
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            var next = i + 1 < pattern.Length ? pattern[i + 1] : '\0';
            var at = $"at character {i + 1}";
            if (c == '\\')
            {
                if (inClass == 0 && (next is >= '1' and <= '9' || (next == 'k' && i + 2 < pattern.Length && pattern[i + 2] is '<' or '\'')))
                {
                    return $"a backreference '\\{next}' {at}: a pattern cannot require a part to repeat an earlier one; " +
                           "list what the part may be instead (e.g. (ab|cd)), and check that two parts are equal in the model itself";
                }

                if (inClass == 0 && next == 'G') return $"the anchor '\\G' {at}: write ^ to anchor the match at the start";
                i++;
                continue;
            }

            if (inClass > 0)
            {
                if (c == '[' && i > 0 && pattern[i - 1] == '-') inClass++;
                else if (c == ']') inClass--;
                continue;
            }

            if (c == '[')
            {
                inClass = 1;
                if (next == '^') i++;
                if (i + 1 < pattern.Length && pattern[i + 1] == ']') i++; // a ] first is a member
                continue;
            }

            if (c != '(' || next != '?') continue;
            var rest = pattern.AsSpan(i + 2);
            if (rest.StartsWith("=") || rest.StartsWith("!") || rest.StartsWith("<=") || rest.StartsWith("<!"))
            {
                var kind = rest[0] == '<' ? "lookbehind" : "lookahead";
                return $"a {kind} '{pattern.Substring(i, rest[0] == '<' ? 4 : 3)}' {at}: to require that a string also matches (or does not " +
                       "match) another rule, give each rule its own pattern: allOf: [{pattern: A}, {pattern: B}], or not: {pattern: B}";
            }

            if (rest.StartsWith(">")) return $"an atomic group '(?>' {at}: write a plain group (?:...); a pattern matched in linear time never backtracks";
            if (rest.StartsWith("(")) return $"a conditional '(?(' {at}: write the cases as alternatives, a|b, or as JSON Schema's if/then/else";
            if (IsBalancing(rest)) return $"a balancing group '(?<a-b>' {at}: a pattern cannot count nesting; check it in the model itself";
        }

        return null;
    }

    /// <summary>(?&lt;name1-name2&gt;...) or (?'name1-name2'...).</summary>
    private static bool IsBalancing(ReadOnlySpan<char> rest)
    {
        if (rest.Length == 0 || rest[0] is not ('<' or '\'')) return false;
        var close = rest[0] == '<' ? '>' : '\'';
        var end = rest[1..].IndexOf(close);
        return end > 0 && rest[1..(end + 1)].Contains('-');
    }

    /// <summary>
    /// No construct found: the matcher would be too large, from repeat counts. Names the largest count written, and the
    /// limit when the matcher's own message states it (a number only, read safely).
    /// </summary>
    private static string Size(string pattern, string message)
    {
        var limit = Regex.Match(message, @"limit of '?(\d{1,9})'?", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)) is { Success: true } m
            ? $" (at most {int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture):N0} states)" : "";
        var largest = Regex.Matches(pattern, @"\{(\d{1,9})(,(\d{1,9})?)?\}", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1))
            .OrderByDescending(q => q.Groups.Cast<Group>().Skip(1).Where(g => g.Success && g.Value.Length > 0 && char.IsDigit(g.Value[0])).Max(g => long.Parse(g.Value, CultureInfo.InvariantCulture)))
            .FirstOrDefault();
        var repeat = largest is null ? "its repeat counts" : $"its repeat {largest.Value} at character {largest.Index + 1}";
        return $"{repeat} would make the matcher larger than InfraMind allows{limit}; use smaller counts, " +
               "and minLength/maxLength to bound a string's length (e.g. pattern ^[a-z]*$ with maxLength: 65535 instead of ^[a-z]{0,65535}$)";
    }

    private sealed class LinearPattern : PatternKeyword
    {
        public override object? ValidateKeywordValue(JsonElement value) =>
            value.ValueKind == JsonValueKind.String ? Create(value.GetString()!) : base.ValidateKeywordValue(value);
    }

    private sealed class LinearPatternProperties : PatternPropertiesKeyword
    {
        public override object? ValidateKeywordValue(JsonElement value)
        {
            // Not the base's: it compiles the keys with the backtracking engine, and refuses some this rule accepts.
            if (value.ValueKind != JsonValueKind.Object) throw new JsonSchemaException("patternProperties must be an object whose keys are patterns");
            var patterns = new Dictionary<string, Regex>(StringComparer.Ordinal);
            foreach (var property in value.EnumerateObject()) patterns[property.Name] = Create(property.Name);
            return patterns;
        }
    }
}
