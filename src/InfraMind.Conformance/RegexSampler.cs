using System.Text;

namespace InfraMind.Conformance;

/// <summary>
/// Produces a string that matches a JSON Schema <c>pattern</c>. Hand-written because .NET has no regex-to-sample
/// generator; it covers the subset schemas use (literals, classes, escapes, groups, alternation, quantifiers) within
/// what <see cref="InfraMind.Manifest.SchemaPatterns"/> accepts (no lookarounds or backreferences: refused at validation).
/// Callers check the result with <see cref="InfraMind.Manifest.SchemaPatterns.Create"/> and fall back when a construct is
/// beyond this subset.
/// </summary>
internal sealed class RegexSampler
{
    private const int OpenRepeat = 3;
    private readonly string _pattern;
    private readonly Random _random;
    private int _pos;

    private RegexSampler(string pattern, Random random)
    {
        _pattern = pattern;
        _random = random;
    }

    public static string? Sample(string pattern, Random random)
    {
        try
        {
            var sampler = new RegexSampler(pattern, random);
            var sb = new StringBuilder();
            sampler.Alternation(sb);
            return sampler._pos == pattern.Length ? sb.ToString() : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private bool More => _pos < _pattern.Length;

    private char Peek => _pattern[_pos];

    private void Alternation(StringBuilder sb)
    {
        var branches = new List<StringBuilder>();
        var current = new StringBuilder();
        while (More && Peek != ')')
        {
            if (Peek == '|')
            {
                _pos++;
                branches.Add(current);
                current = new StringBuilder();
                continue;
            }

            Sequence(current);
        }

        branches.Add(current);
        sb.Append(branches[_random.Next(branches.Count)]);
    }

    private void Sequence(StringBuilder sb)
    {
        var atom = new StringBuilder();
        Func<string> produce;
        var c = Peek;
        switch (c)
        {
            case '^' or '$':
                _pos++;
                return;
            case '(':
            {
                _pos++;
                if (More && Peek == '?')
                {
                    _pos++;
                    // Only non-capturing groups: lookarounds are not schema patterns (SchemaPatterns refuses them).
                    if (More && Peek == ':') _pos++;
                    else throw new FormatException("unsupported group");
                }

                var start = _pos;
                var depth = 0;
                // Re-sample the group on each repetition so "(ab|cd){2}" can give "abcd".
                var end = start;
                for (; end < _pattern.Length; end++)
                {
                    if (_pattern[end] == '\\') end++;
                    else if (_pattern[end] == '(') depth++;
                    else if (_pattern[end] == ')' && depth-- == 0) break;
                }

                if (end >= _pattern.Length) throw new FormatException("unclosed group");
                var inner = _pattern[start..end];
                _pos = end + 1;
                produce = () =>
                {
                    var s = new RegexSampler(inner, _random);
                    var b = new StringBuilder();
                    s.Alternation(b);
                    if (s._pos != inner.Length) throw new FormatException("bad group");
                    return b.ToString();
                };
                break;
            }

            case '[':
            {
                var set = CharClass();
                produce = () => set[_random.Next(set.Count)].ToString();
                break;
            }

            case '.':
                _pos++;
                produce = () => ((char)_random.Next('a', 'z' + 1)).ToString();
                break;
            case '\\':
            {
                _pos++;
                var set = Escape();
                produce = () => set[_random.Next(set.Count)].ToString();
                break;
            }

            case '*' or '+' or '?' or '{' when _pos == 0:
                throw new FormatException("dangling quantifier");
            default:
                _pos++;
                produce = () => c.ToString();
                break;
        }

        var (min, max) = Quantifier();
        var count = min == max ? min : _random.Next(min, max + 1);
        for (var i = 0; i < count; i++) atom.Append(produce());
        sb.Append(atom);
    }

    private (int Min, int Max) Quantifier()
    {
        if (!More) return (1, 1);
        (int, int) q;
        switch (Peek)
        {
            case '*':
                _pos++;
                q = (0, OpenRepeat);
                break;
            case '+':
                _pos++;
                q = (1, OpenRepeat);
                break;
            case '?':
                _pos++;
                q = (0, 1);
                break;
            case '{':
            {
                var close = _pattern.IndexOf('}', _pos);
                if (close < 0) throw new FormatException("unclosed {");
                var body = _pattern[(_pos + 1)..close];
                var parts = body.Split(',');
                var min = int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
                var max = parts.Length == 1 ? min : parts[1].Length == 0 ? min + OpenRepeat : int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
                if (max > 1000 || min > max) throw new FormatException("repeat too large");
                _pos = close + 1;
                q = (min, max);
                break;
            }

            default:
                return (1, 1);
        }

        if (More && Peek == '?') _pos++; // lazy quantifiers sample the same way
        return q;
    }

    private List<char> CharClass()
    {
        _pos++; // [
        var negate = More && Peek == '^';
        if (negate) _pos++;
        var set = new List<char>();
        var first = true;
        while (More && (Peek != ']' || first))
        {
            first = false;
            List<char> items;
            if (Peek == '\\')
            {
                _pos++;
                items = Escape();
            }
            else
            {
                var lo = _pattern[_pos++];
                if (More && Peek == '-' && _pos + 1 < _pattern.Length && _pattern[_pos + 1] != ']')
                {
                    _pos++;
                    var hi = _pattern[_pos++] == '\\' ? _pattern[_pos++] : _pattern[_pos - 1];
                    items = [];
                    for (var ch = lo; ch <= hi && items.Count < 4096; ch++) items.Add(ch);
                }
                else items = [lo];
            }

            set.AddRange(items);
        }

        if (!More) throw new FormatException("unclosed [");
        _pos++; // ]
        if (!negate) return set.Count > 0 ? set : throw new FormatException("empty class");
        var allowed = Enumerable.Range(' ', '~' - ' ' + 1).Select(i => (char)i).Where(ch => !set.Contains(ch)).ToList();
        return allowed.Count > 0 ? allowed : throw new FormatException("empty negated class");
    }

    private List<char> Escape()
    {
        if (!More) throw new FormatException("trailing backslash");
        var e = _pattern[_pos++];
        return e switch
        {
            'd' => [.. "0123456789"],
            'w' => [.. "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"],
            's' => [' '],
            'D' => [.. "abcxyz"],
            'W' => [.. "-.!"],
            'S' => [.. "abcxyz"],
            'n' => ['\n'],
            't' => ['\t'],
            'b' or 'B' => throw new FormatException("word boundaries are not sampled"),
            _ when char.IsLetterOrDigit(e) => throw new FormatException($"unsupported escape \\{e}"),
            _ => [e],
        };
    }
}
