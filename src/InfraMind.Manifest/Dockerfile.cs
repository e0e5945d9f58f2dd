using System.Globalization;

namespace InfraMind.Manifest;

/// <summary>
/// The few Dockerfile facts the package checks need (EXPOSE, the last CMD/ENTRYPOINT). A full Dockerfile parser is the
/// engine's job; this only reads instructions line by line, joining backslash continuations.
/// </summary>
internal sealed record Dockerfile(IReadOnlyList<(int Port, int Line)> ExposedPorts, (string Instruction, string Text, int Line)? Command)
{
    public static Dockerfile Read(string path)
    {
        var ports = new List<(int, int)>();
        (string, string, int)? command = null;
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (IOException)
        {
            return new Dockerfile(ports, null);
        }

        for (var i = 0; i < lines.Length; i++)
        {
            var start = i;
            var text = lines[i].Trim();
            while (text.EndsWith('\\') && i + 1 < lines.Length) text = text[..^1] + " " + lines[++i].Trim();
            if (text.Length == 0 || text.StartsWith('#')) continue;
            var space = text.IndexOfAny([' ', '\t']);
            if (space < 0) continue;
            var instruction = text[..space].ToUpperInvariant();
            var args = text[(space + 1)..].Trim();
            if (instruction == "FROM") ports.Clear();
            if (instruction == "EXPOSE")
            {
                foreach (var p in args.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    var number = p.Split('/')[0];
                    if (int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var port)) ports.Add((port, start + 1));
                }
            }
            else if (instruction is "CMD" or "ENTRYPOINT")
            {
                command = (instruction, args, start + 1);
            }
        }

        return new Dockerfile(ports, command);
    }
}
