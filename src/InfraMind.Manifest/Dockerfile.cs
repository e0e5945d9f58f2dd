using System.Globalization;

namespace InfraMind.Manifest;

/// <summary>
/// The few Dockerfile facts the package checks need (EXPOSE, the last CMD/ENTRYPOINT, instructions the engine would
/// refuse, the first instruction). A full Dockerfile parser is the engine's job; this reads instructions as its parser
/// splits them (<see cref="Split"/>) and warns only: a Dockerfile this reading misjudges still builds.
/// <c>Lines</c>: how many lines it has (0: empty); null when it was not read (larger than a manifest may be, or unreadable).
/// </summary>
internal sealed partial record Dockerfile(
    IReadOnlyList<(int Port, int Line)> ExposedPorts,
    (string Instruction, string Text, int Line)? Command,
    IReadOnlyList<(string Instruction, int Line)> Unknown,
    (string Instruction, int Line)? First,
    int? Lines)
{
    /// <summary>
    /// The package must have a Dockerfile; warns when its EXPOSE or CMD/ENTRYPOINT disagrees with the manifest's port
    /// or entrypoint (a warning: a Dockerfile may start the model in ways this reading cannot follow).
    /// </summary>
    public static void Check(ModelManifest manifest, string packageDir, ManifestFindings findings)
    {
        var path = Path.Combine(packageDir, "Dockerfile");
        if (!File.Exists(path))
        {
            findings.Error(ManifestCodes.DockerfileMissing, "", null, $"no Dockerfile in {packageDir}",
                "add a Dockerfile that copies the package and starts the entrypoint (`infra init` writes one)", file: "Dockerfile");
            return;
        }

        var dockerfile = Read(path);
        if (dockerfile.ExposedPorts.Count > 0 && !dockerfile.ExposedPorts.Any(p => p.Port == manifest.Port))
        {
            var first = dockerfile.ExposedPorts[0];
            findings.Warning(ManifestCodes.ExposeMismatch, "port", "Dockerfile", first.Line,
                $"the Dockerfile exposes {string.Join(", ", dockerfile.ExposedPorts.Select(p => p.Port))} but model.yaml declares port {manifest.Port}",
                $"make them agree: `EXPOSE {manifest.Port}` or `port: {first.Port}`");
        }

        var entry = Path.GetFileName(manifest.Entrypoint);
        if (dockerfile.Command is { } cmd && !cmd.Text.Contains(entry, StringComparison.Ordinal))
        {
            findings.Warning(ManifestCodes.CommandMismatch, "entrypoint", "Dockerfile", cmd.Line,
                $"the Dockerfile's {cmd.Instruction} ({cmd.Text}) does not mention the entrypoint '{manifest.Entrypoint}'",
                $"start the entrypoint, e.g. CMD [\"python3\", \"{manifest.Entrypoint}\"], or fix `entrypoint:`");
        }

        // What `infra build` would stop at, said before it: the engine's words are "unknown instruction: FORM".
        foreach (var (instruction, line) in dockerfile.Unknown.Take(5))
        {
            findings.Warning(ManifestCodes.DockerfileInstructionUnknown, "", "Dockerfile", line,
                $"'{TerminalText.Cut(instruction, 40)}' is not a Dockerfile instruction; the engine will refuse to build",
                "use one of " + string.Join(", ", Instructions.Order(StringComparer.Ordinal)) + " (a line that goes on from the one above ends that one with \\)");
        }

        if (dockerfile.Lines is { } lines && dockerfile.Unknown.Count == 0 && dockerfile.First is not ("FROM", _))
        {
            findings.Warning(ManifestCodes.DockerfileNoFrom, "", "Dockerfile", dockerfile.First?.Line ?? 1,
                dockerfile.First is { } f ? $"the Dockerfile's first instruction is {f.Instruction}, not FROM; the engine will refuse to build"
                : lines == 0 ? "the Dockerfile is empty (0 bytes); the engine will refuse to build" : "the Dockerfile has no instruction; the engine will refuse to build",
                "start it with FROM and the base image (only ARG may come before it), e.g. FROM python:3.11-slim");
        }
    }

    /// <summary>The instructions of the Dockerfile reference; anything else the engine refuses ("unknown instruction").</summary>
    private static readonly HashSet<string> Instructions = new(StringComparer.Ordinal)
    {
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD",
        "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
    };

    /// <summary>The lines of a file's bytes, decoded as <see cref="File.ReadAllLines(string)"/> decodes them (UTF-8 unless a mark says otherwise).</summary>
    private static string[] ReadLines(byte[] bytes)
    {
        using var reader = new StreamReader(new MemoryStream(bytes), System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        var lines = new List<string>();
        while (reader.ReadLine() is { } line) lines.Add(line);
        return [.. lines];
    }

    public static Dockerfile Read(string path)
    {
        var ports = new List<(int, int)>();
        (string, string, int)? command = null;
        var unknown = new List<(string, int)>();
        (string, int)? first = null;
        string[]? lines;
        try
        {
            // Read only when it is a file of a sensible size: a FIFO or a device reports 0 and would block or never
            // end (read as empty: the engine builds from neither); the engine, not this check, is the judge of a
            // Dockerfile that large.
            var length = BoundedBody.TargetLength(path);
            // The read is bounded as well: a file may grow between the look and the read.
            lines = length switch
            {
                0 => [],
                > ManifestReader.MaxManifestBytes => null,
                _ => BoundedBody.ReadFile(path, ManifestReader.MaxManifestBytes) is { } bytes ? ReadLines(bytes) : null,
            };
        }
        catch (IOException)
        {
            lines = null;
        }

        if (lines is null) return new Dockerfile(ports, null, [], null, Lines: null);
        foreach (var (instruction, args, line) in Split(lines))
        {
            if (!Instructions.Contains(instruction))
            {
                unknown.Add((instruction, line));
                continue;
            }

            if (instruction != "ARG") first ??= (instruction, line);
            if (instruction == "FROM") ports.Clear();
            if (instruction == "EXPOSE")
            {
                foreach (var p in args.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    var number = p.Split('/')[0];
                    if (int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var port)) ports.Add((port, line));
                }
            }
            else if (instruction is "CMD" or "ENTRYPOINT")
            {
                command = (instruction, args, line);
            }
        }

        return new Dockerfile(ports, command, unknown, first, lines.Length);
    }

    /// <summary>
    /// The instructions as the engine's parser reads them: parser directives (only <c># escape=</c> matters here) at the
    /// top, comment and empty lines skipped (within a continued instruction too), lines joined where they end in the
    /// escape character, and the here-documents of RUN, COPY and ADD (<c>&lt;&lt;EOF</c> … <c>EOF</c>) passed over.
    /// Each instruction with its arguments and the line it starts on (counted from 1).
    /// </summary>
    private static IEnumerable<(string Instruction, string Args, int Line)> Split(string[] lines)
    {
        var escape = '\\';
        var i = 0;
        // Parser directives: "# name=value" lines before anything else; the first other line ends them.
        for (; i < lines.Length; i++)
        {
            var directive = DirectivePattern().Match(lines[i]);
            if (!directive.Success) break;
            if (directive.Groups[1].Value.Equals("escape", StringComparison.OrdinalIgnoreCase) && directive.Groups[2].Value is ['`'] or ['\\'])
                escape = directive.Groups[2].Value[0];
        }

        for (; i < lines.Length; i++)
        {
            var text = lines[i].Trim();
            if (text.Length == 0 || text.StartsWith('#')) continue;
            var start = i + 1;
            while (text.EndsWith(escape))
            {
                text = text[..^1];
                // The next line that is neither empty nor a comment goes on the instruction.
                while (i + 1 < lines.Length && (lines[i + 1].Trim().Length == 0 || lines[i + 1].TrimStart().StartsWith('#'))) i++;
                if (i + 1 >= lines.Length) break;
                text += " " + lines[++i].Trim();
            }

            var space = text.IndexOfAny([' ', '\t']);
            var instruction = (space < 0 ? text : text[..space]).ToUpperInvariant();
            var args = space < 0 ? "" : text[(space + 1)..].Trim();
            if (instruction is "RUN" or "COPY" or "ADD")
            {
                // Each here-document's body runs to its word, alone on a line (after tabs, for <<-).
                foreach (System.Text.RegularExpressions.Match heredoc in HeredocPattern().Matches(args))
                {
                    var word = heredoc.Groups[3].Value;
                    while (i + 1 < lines.Length && (heredoc.Groups[1].Value == "-" ? lines[i + 1].TrimStart('\t') : lines[i + 1]).TrimEnd('\r') != word) i++;
                    i++;
                }
            }

            yield return (instruction, args, start);
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\s*#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.*?)\s*$")]
    private static partial System.Text.RegularExpressions.Regex DirectivePattern();

    [System.Text.RegularExpressions.GeneratedRegex(@"<<(-?)([""']?)([A-Za-z_][A-Za-z0-9_]*)\2")]
    private static partial System.Text.RegularExpressions.Regex HeredocPattern();
}
