using System.Globalization;

namespace InfraMind.Manifest;

/// <summary>
/// The few Dockerfile facts the package checks need (EXPOSE, the last CMD/ENTRYPOINT). A full Dockerfile parser is the
/// engine's job; this only reads instructions line by line, joining backslash continuations.
/// </summary>
internal sealed record Dockerfile(IReadOnlyList<(int Port, int Line)> ExposedPorts, (string Instruction, string Text, int Line)? Command)
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
    }

    public static Dockerfile Read(string path)
    {
        var ports = new List<(int, int)>();
        (string, string, int)? command = null;
        string[] lines;
        try
        {
            // Read only when it is a file of a sensible size: a FIFO or a device reports 0 and would block or never
            // end; the engine, not this check, is the judge of a Dockerfile that large.
            var length = new FileInfo(path).Length;
            lines = length is 0 or > ManifestReader.MaxManifestBytes ? [] : File.ReadAllLines(path);
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
