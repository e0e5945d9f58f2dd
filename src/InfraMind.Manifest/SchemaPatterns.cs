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
        if (Problem(pattern) is { } problem) throw new ArgumentException(problem, nameof(pattern));
        return new Regex(pattern, Options);
    }

    /// <summary>Why <paramref name="pattern"/> cannot be a schema pattern, or null when it can.</summary>
    public static string? Problem(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        if (pattern.Length > MaxLength) return $"the pattern is {pattern.Length} characters long; at most {MaxLength} are accepted";
        try
        {
            _ = new Regex(pattern, Options);
            return null;
        }
        catch (RegexParseException e)
        {
            return $"the pattern is not a regular expression: {e.Message}";
        }
        catch (NotSupportedException e)
        {
            // Backreferences, lookarounds, atomic groups, conditionals, or an automaton larger than the engine's limit.
            return $"the pattern cannot be matched in linear time: {e.Message}";
        }
        catch (ArgumentException e)
        {
            return $"the pattern is not a regular expression: {e.Message}";
        }
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
