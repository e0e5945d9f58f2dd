using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace InfraMind.Manifest;

/// <summary>A YAML node that remembers where it was written, so every finding can point at a line and column.</summary>
internal abstract record YNode(int Line, int Column)
{
    /// <summary>What the node is, for a message: "a mapping", "a list", "number '3'".</summary>
    public string Description => this switch
    {
        YMapping => "a mapping",
        YSequence => "a list",
        YScalar s => $"{(s.IsNull ? "nothing" : s.TypeName)} '{s.Value}'",
        _ => "something else",
    };
}

internal sealed partial record YScalar(string Value, bool Quoted, int Line, int Column) : YNode(Line, Column)
{
    public bool IsNull => !Quoted && Value is "" or "~" or "null" or "Null" or "NULL";

    public bool? AsBool() => Quoted ? null : Value switch
    {
        "true" or "True" or "TRUE" => true,
        "false" or "False" or "FALSE" => false,
        _ => null,
    };

    /// <summary>
    /// The scalar as an integer of YAML 1.2's core schema: <c>[-+]?[0-9]+</c>, <c>0o[0-7]+</c> or <c>0x[0-9a-fA-F]+</c>,
    /// within a long. YAML 1.1's forms (<c>9_000</c>, <c>0b1010</c>, <c>010</c> as octal, <c>190:20:30</c>) are not
    /// numbers here, as in every YAML 1.2 reader (<c>010</c> is ten).
    /// </summary>
    public long? AsInteger()
    {
        if (Quoted) return null;
        var v = Value.AsSpan();
        if (v.StartsWith("0x", StringComparison.Ordinal))
            return v.Length > 2 && long.TryParse(v[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var hex) && hex >= 0 ? hex : null;
        if (v.StartsWith("0o", StringComparison.Ordinal))
        {
            if (v.Length == 2 || v.Length > 23) return null;
            long octal = 0;
            foreach (var c in v[2..])
            {
                if (c is < '0' or > '7' || octal > (long.MaxValue >> 3)) return null;
                octal = (octal << 3) | (long)(c - '0');
            }

            return octal;
        }

        var digits = v.Length > 0 && v[0] is '-' or '+' ? v[1..] : v;
        if (digits.IsEmpty || digits.ContainsAnyExceptInRange('0', '9')) return null;
        return long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) ? l : null;
    }

    /// <summary>The scalar as a number of YAML 1.2's core schema: an <see cref="AsInteger"/> or a finite float such as <c>0.5</c>, <c>-1.5e3</c>, <c>.5</c>.</summary>
    public double? AsNumber()
    {
        if (Quoted) return null;
        if (AsInteger() is { } l) return l;
        return FloatForm().IsMatch(Value) && double.TryParse(Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) ? d : null;
    }

    /// <summary>A plain scalar YAML 1.1 read as a number and YAML 1.2 does not: digits with <c>_</c> separators.</summary>
    public string? WithoutSeparators =>
        !Quoted && Value.Contains('_', StringComparison.Ordinal) && (this with { Value = Value.Replace("_", "", StringComparison.Ordinal) }).AsNumber() is not null
            ? Value.Replace("_", "", StringComparison.Ordinal)
            : null;

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$", RegexOptions.CultureInvariant)]
    private static partial Regex FloatForm();

    /// <summary>YAML 1.2 core-schema reading of a scalar, as a JSON type name.</summary>
    public string TypeName => IsNull ? "null" : AsBool() is not null ? "boolean" : AsNumber() is not null ? "number" : "string";
}

internal sealed record YMapping(IReadOnlyList<KeyValuePair<YScalar, YNode>> Entries, int Line, int Column) : YNode(Line, Column)
{
    public YNode? this[string key] => Entries.FirstOrDefault(e => e.Key.Value == key).Value;
}

internal sealed record YSequence(IReadOnlyList<YNode> Items, int Line, int Column) : YNode(Line, Column);

/// <summary>
/// Builds <see cref="YNode"/> trees from YamlDotNet's event parser. Written here rather than using YamlStream
/// because YamlStream stops at the first duplicate key and drops positions we need for located errors.
/// </summary>
internal sealed class YamlTreeReader
{
    private const int MaxDepth = 64;
    private readonly Dictionary<string, YNode> _anchors = new(StringComparer.Ordinal);
    private readonly List<(int Line, int Column, string Key, int FirstLine)> _duplicates = [];
    private readonly Parser _parser;

    private YamlTreeReader(string text) => _parser = new Parser(new StringReader(text));

    public sealed record Result(YNode? Root, IReadOnlyList<(int Line, int Column, string Key, int FirstLine)> Duplicates, bool MultipleDocuments);

    /// <exception cref="YamlException">on a syntax error; carries the position.</exception>
    public static Result Read(string text)
    {
        var reader = new YamlTreeReader(text);
        var p = reader._parser;
        p.Consume<StreamStart>();
        if (p.Accept<StreamEnd>(out _)) return new Result(null, [], false);
        p.Consume<DocumentStart>();
        var root = reader.ReadNode(0);
        p.Consume<DocumentEnd>();
        var multiple = !p.Accept<StreamEnd>(out _);
        return new Result(root, reader._duplicates, multiple);
    }

    private YNode ReadNode(int depth)
    {
        if (depth > MaxDepth)
        {
            var at = _parser.Current!.Start;
            throw new YamlException(at, at, $"nesting deeper than {MaxDepth} levels");
        }

        if (_parser.TryConsume<AnchorAlias>(out var alias))
        {
            return _anchors.TryGetValue(alias.Value.Value, out var target)
                ? target
                : throw new YamlException(alias.Start, alias.End, $"unknown alias *{alias.Value.Value}");
        }

        YNode node;
        string? anchor;
        if (_parser.TryConsume<Scalar>(out var scalar))
        {
            node = new YScalar(scalar.Value, scalar.Style is not ScalarStyle.Plain, (int)scalar.Start.Line, (int)scalar.Start.Column);
            anchor = scalar.Anchor.IsEmpty ? null : scalar.Anchor.Value;
        }
        else if (_parser.TryConsume<MappingStart>(out var ms))
        {
            var entries = new List<KeyValuePair<YScalar, YNode>>();
            var seen = new Dictionary<string, int>(StringComparer.Ordinal);
            while (!_parser.TryConsume<MappingEnd>(out _))
            {
                var keyNode = ReadNode(depth + 1);
                var value = ReadNode(depth + 1);
                var key = keyNode as YScalar ?? new YScalar("<complex key>", true, keyNode.Line, keyNode.Column);
                if (seen.TryGetValue(key.Value, out var firstLine))
                {
                    _duplicates.Add((key.Line, key.Column, key.Value, firstLine));
                    continue;
                }

                seen[key.Value] = key.Line;
                entries.Add(new(key, value));
            }

            node = new YMapping(entries, (int)ms.Start.Line, (int)ms.Start.Column);
            anchor = ms.Anchor.IsEmpty ? null : ms.Anchor.Value;
        }
        else if (_parser.TryConsume<SequenceStart>(out var ss))
        {
            var items = new List<YNode>();
            while (!_parser.TryConsume<SequenceEnd>(out _)) items.Add(ReadNode(depth + 1));
            node = new YSequence(items, (int)ss.Start.Line, (int)ss.Start.Column);
            anchor = ss.Anchor.IsEmpty ? null : ss.Anchor.Value;
        }
        else
        {
            var cur = _parser.Current!;
            throw new YamlException(cur.Start, cur.End, $"unexpected {cur.GetType().Name}");
        }

        if (anchor is not null) _anchors[anchor] = node;
        return node;
    }
}
