using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace InfraMind.Conformance;

/// <summary>
/// Produces a string that matches a JSON Schema <c>pattern</c>. Hand-written because .NET has no regex-to-sample
/// generator; it covers the subset schemas use (literals, classes, escapes, Unicode categories and blocks, groups,
/// alternation, quantifiers) within what <see cref="InfraMind.Manifest.SchemaPatterns"/> accepts (no lookarounds or
/// backreferences: refused at validation). A character class is not interpreted here: its members are found by asking
/// .NET's own engine which characters of <see cref="Candidates"/> the class matches (<see cref="Context.Members"/>), so
/// <c>[\p{Lu}\d]</c>, <c>\P{L}</c>, <c>\p{IsGreek}</c> or a subtraction mean what the matcher means. Callers check the
/// result against the schema and fall back when a construct is beyond this subset.
/// </summary>
internal sealed class RegexSampler
{
    private const int OpenRepeat = 3;
    private readonly string _pattern;
    private readonly Random _random;
    private readonly Context _context;
    private int _pos;

    private RegexSampler(string pattern, Random random, Context context)
    {
        _pattern = pattern;
        _random = random;
        _context = context;
    }

    /// <summary>
    /// What samples of one generator share, and the bounds on their work: a stranger's pattern is sampled on every node
    /// its version is placed on. <see cref="MaxClasses"/> distinct classes are resolved (each tests every candidate
    /// character once, then is remembered), one sample takes at most <see cref="MaxSteps"/> steps (atoms produced,
    /// counted at every level of nesting), and all samples together at most <see cref="MaxTotalSteps"/>; beyond a
    /// bound a sample is null, as for a construct the sampler does not know.
    /// </summary>
    internal sealed class Context
    {
        internal const int MaxClasses = 256;
        internal const int MaxSteps = 200_000;
        internal const long MaxTotalSteps = 5_000_000;

        private readonly Dictionary<string, char[]?> _classes = new(StringComparer.Ordinal);
        private int _steps;
        private long _totalSteps;

        /// <summary>Steps all samples took so far (for tests of the bounds).</summary>
        internal long TotalSteps => _totalSteps;

        /// <summary>Classes resolved so far (for tests of the bounds).</summary>
        internal int Classes => _classes.Count;

        internal bool Spent => _totalSteps >= MaxTotalSteps;

        internal void Begin() => _steps = 0;

        internal void Step(int count = 1)
        {
            _steps += count;
            _totalSteps += count;
            if (_steps > MaxSteps || _totalSteps > MaxTotalSteps) throw new FormatException("sampling budget spent");
        }

        /// <summary>
        /// The characters of <see cref="Candidates"/> that <paramref name="classText"/> (<c>[...]</c> or an escape such
        /// as <c>\p{L}</c>) matches as .NET's engine reads it: printable ASCII ones when there are any, so samples read
        /// easily, else the others.
        /// </summary>
        internal char[] Members(string classText)
        {
            if (_classes.TryGetValue(classText, out var known)) return known ?? throw new FormatException("class matches no candidate");
            if (_classes.Count >= MaxClasses) throw new FormatException("too many classes");
            Regex regex;
            try
            {
                // One character class alone: no backtracking to speak of, whatever the class holds.
                regex = new Regex(@"\A(?:" + classText + @")\z", RegexOptions.CultureInvariant);
            }
            catch (ArgumentException)
            {
                _classes[classText] = null;
                throw new FormatException("not a class");
            }

            var ascii = new List<char>();
            var other = new List<char>();
            foreach (var c in Candidates)
            {
                if (!regex.IsMatch(new ReadOnlySpan<char>(in c))) continue;
                (c is >= ' ' and <= '~' ? ascii : other).Add(c);
            }

            var members = ascii.Count > 0 ? [.. ascii] : other.Count > 0 ? other.ToArray() : null;
            _classes[classText] = members;
            return members ?? throw new FormatException("class matches no candidate");
        }
    }

    /// <summary>
    /// The characters a class is tried against, fixed order: printable ASCII, then up to 16 of every Unicode category
    /// (by <see cref="char.GetUnicodeCategory(char)"/>, spread over the Basic Multilingual Plane), then one of every
    /// 16 code points (every Unicode block starts at a multiple of 16, so each block's first assigned character is
    /// here). No surrogates: a lone one is not text. About 4,500 characters, built once.
    /// </summary>
    internal static IReadOnlyList<char> Candidates => LazyCandidates.Value;

    private static readonly Lazy<char[]> LazyCandidates = new(() =>
    {
        var order = new List<char>();
        var seen = new HashSet<char>();
        void Add(char c)
        {
            if (!char.IsSurrogate(c) && seen.Add(c)) order.Add(c);
        }

        for (var c = ' '; c <= '~'; c++) Add(c);
        var byCategory = new List<char>[32];
        for (var i = 0; i <= char.MaxValue; i++)
        {
            var c = (char)i;
            if (char.IsSurrogate(c)) continue;
            (byCategory[(int)char.GetUnicodeCategory(c)] ??= []).Add(c);
        }

        foreach (var members in byCategory.OfType<List<char>>())
        {
            var take = Math.Min(16, members.Count);
            for (var k = 0; k < take; k++) Add(members[(int)((long)k * members.Count / take)]);
        }

        for (var start = 0; start <= char.MaxValue; start += 16)
        {
            var first = Enumerable.Range(start, 16).Select(i => (char)i).Where(c => !char.IsSurrogate(c)).ToList();
            if (first.Count == 0) continue;
            Add(first.FirstOrDefault(c => char.GetUnicodeCategory(c) != UnicodeCategory.OtherNotAssigned, first[0]));
        }

        return [.. order];
    });

    /// <summary>A string <paramref name="pattern"/> matches, or null (a construct beyond the subset, or a bound reached).</summary>
    public static string? Sample(string pattern, Random random) => Sample(pattern, random, new Context());

    /// <inheritdoc cref="Sample(string, Random)"/>
    public static string? Sample(string pattern, Random random, Context context)
    {
        if (context.Spent) return null;
        try
        {
            context.Begin();
            var sampler = new RegexSampler(pattern, random, context);
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
            case '\\' when _pos + 1 < _pattern.Length && _pattern[_pos + 1] is 'A' or 'z' or 'Z':
                _pos += 2; // anchors: nothing to produce
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
                    else if (_pattern[end] == '[') end = ClassEnd(end);
                    else if (_pattern[end] == '(') depth++;
                    else if (_pattern[end] == ')' && depth-- == 0) break;
                }

                if (end >= _pattern.Length) throw new FormatException("unclosed group");
                var inner = _pattern[start..end];
                _pos = end + 1;
                produce = () =>
                {
                    var s = new RegexSampler(inner, _random, _context);
                    var b = new StringBuilder();
                    s.Alternation(b);
                    if (s._pos != inner.Length) throw new FormatException("bad group");
                    return b.ToString();
                };
                break;
            }

            case '[':
            {
                var end = ClassEnd(_pos);
                var set = _context.Members(_pattern[_pos..(end + 1)]);
                _pos = end + 1;
                produce = () => set[_random.Next(set.Length)].ToString();
                break;
            }

            case '.':
                _pos++;
                produce = () => ((char)_random.Next('a', 'z' + 1)).ToString();
                break;
            case '\\':
            {
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
        for (var i = 0; i < count; i++)
        {
            _context.Step();
            atom.Append(produce());
        }

        _context.Step(atom.Length);
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
                if (parts.Length > 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var min)) throw new FormatException("not a quantifier");
                var max = min;
                if (parts.Length == 2)
                    max = parts[1].Length == 0 ? min + OpenRepeat : int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var m) ? m : throw new FormatException("not a quantifier");
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

    /// <summary>
    /// Where the class opened at <paramref name="open"/> (a <c>[</c>) closes, as .NET reads it: a <c>]</c> first (after
    /// an optional <c>^</c>) is a member, an escape is one unit (<c>\p{...}</c> whole), <c>-[...]</c> is a subtraction.
    /// </summary>
    private int ClassEnd(int open)
    {
        var i = open + 1;
        if (i < _pattern.Length && _pattern[i] == '^') i++;
        if (i < _pattern.Length && _pattern[i] == ']') i++;
        while (i < _pattern.Length)
        {
            switch (_pattern[i])
            {
                case '\\':
                    i += 2;
                    if (i - 1 < _pattern.Length && _pattern[i - 1] is 'p' or 'P' && i < _pattern.Length && _pattern[i] == '{')
                    {
                        var close = _pattern.IndexOf('}', i);
                        i = close < 0 ? _pattern.Length : close + 1;
                    }

                    continue;
                case '-' when i + 1 < _pattern.Length && _pattern[i + 1] == '[':
                    i = ClassEnd(i + 1) + 1;
                    continue;
                case ']':
                    return i;
                default:
                    i++;
                    continue;
            }
        }

        throw new FormatException("unclosed [");
    }

    /// <summary>The escape at the current position (its backslash included), as the characters it may stand for.</summary>
    private List<char> Escape()
    {
        _pos++; // \
        if (!More) throw new FormatException("trailing backslash");
        var e = _pattern[_pos++];
        switch (e)
        {
            case 'p' or 'P':
            {
                // A Unicode category or block (\p{Lu}, \P{L}, \p{IsGreek}): its members, asked of the engine.
                if (!More || Peek != '{') throw new FormatException("\\p without a name");
                var close = _pattern.IndexOf('}', _pos);
                if (close < 0) throw new FormatException("unclosed \\p{");
                var text = _pattern[(_pos - 2)..(close + 1)];
                _pos = close + 1;
                return [.. _context.Members(text)];
            }

            case 'u' or 'x':
            {
                var digits = e == 'u' ? 4 : 2;
                if (_pos + digits > _pattern.Length ||
                    !int.TryParse(_pattern.AsSpan(_pos, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code))
                    throw new FormatException($"\\{e} without {digits} hex digits");
                _pos += digits;
                return char.IsSurrogate((char)code) ? throw new FormatException("a lone surrogate") : [(char)code];
            }
        }

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
            'r' => ['\r'],
            'f' => ['\f'],
            'v' => ['\v'],
            'e' => ['\u001b'],
            'a' => ['\a'],
            'b' or 'B' => throw new FormatException("word boundaries are not sampled"),
            _ when char.IsLetterOrDigit(e) => throw new FormatException($"unsupported escape \\{e}"),
            _ => [e],
        };
    }
}
