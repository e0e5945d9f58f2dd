using System.Globalization;
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

internal sealed record YScalar(string Value, bool Quoted, int Line, int Column) : YNode(Line, Column)
{
    public bool IsNull => !Quoted && Value is "" or "~" or "null" or "Null" or "NULL";

    public bool? AsBool() => Quoted ? null : Value switch
    {
        "true" or "True" or "TRUE" => true,
        "false" or "False" or "FALSE" => false,
        _ => null,
    };

    public long? AsInteger()
    {
        if (Quoted) return null;
        var v = Value.Replace("_", "", StringComparison.Ordinal);
        if (v.StartsWith("0x", StringComparison.Ordinal) &&
            long.TryParse(v.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var hex)) return hex;
        return long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) ? l : null;
    }

    public double? AsNumber()
    {
        if (Quoted) return null;
        if (AsInteger() is { } l) return l;
        return double.TryParse(Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) ? d : null;
    }

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
