using Semver;

namespace InfraMind.Manifest;

/// <summary>Reads and validates a model package: model.yaml, its schemas, hooks and Dockerfile, collecting every finding.</summary>
public static class ManifestReader
{
    public const string FileName = "model.yaml";

    /// <summary>No honest manifest comes near this; anything larger is refused before it is read into memory.</summary>
    public const long MaxManifestBytes = 1024 * 1024;

    internal static readonly string[] TopLevelKeys =
        ["name", "version", "entrypoint", "runtime", "protocol", "port", "resources", "input_schema", "output_schema", "hooks", "timeout", "deterministic"];

    internal static readonly string[] RequiredKeys =
        ["name", "version", "entrypoint", "runtime", "protocol", "port", "input_schema", "output_schema"];

    /// <summary>Validates a package directory or a manifest file.</summary>
    public static ManifestValidation Validate(string path)
    {
        if (string.IsNullOrWhiteSpace(path))
            return Fail(FileName, ".", ManifestCodes.PathNotFound, "the path is empty", "pass a package directory (containing model.yaml) or a model.yaml file; '.' is this directory");
        var full = Path.GetFullPath(path);
        string manifestPath, packageDir;
        if (Directory.Exists(full))
        {
            packageDir = full;
            manifestPath = Path.Combine(full, FileName);
            if (!File.Exists(manifestPath))
            {
                // model.yml or Model.yaml is the usual slip: every command looks for model.yaml exactly, so say which file to rename.
                var near = Directory.EnumerateFiles(full)
                    .Select(Path.GetFileName)
                    .FirstOrDefault(f => f!.Equals(FileName, StringComparison.OrdinalIgnoreCase) || f.Equals("model.yml", StringComparison.OrdinalIgnoreCase));
                return Fail(manifestPath, packageDir, ManifestCodes.ManifestMissing, $"no {FileName} in {path}", near is null
                    ? "create one with `infra init NAME`, or pass the path of the manifest file"
                    : RenameHint(near));
            }
        }
        else if (File.Exists(full))
        {
            manifestPath = full;
            packageDir = Path.GetDirectoryName(full)!;
        }
        else
        {
            return Fail(full, Path.GetDirectoryName(full) ?? full, ManifestCodes.PathNotFound, $"{path} does not exist",
                "pass a package directory (containing model.yaml) or a model.yaml file");
        }

        // model.yaml itself may be a link, but not out of its package: its text is shown in findings, so a package
        // would otherwise make `infra validate` print any file its user can read (as for the entrypoint and hooks).
        var (problem, detail) = PackagePaths.Check(packageDir, Path.GetFileName(manifestPath));
        if (problem == PackagePaths.Problem.Escapes)
            return Fail(manifestPath, packageDir, ManifestCodes.PathEscapes, detail, $"make {Path.GetFileName(manifestPath)} a file of the package, not a link out of it");

        var result = new Reader(manifestPath, packageDir, null, null).Run();
        return Path.GetFileName(manifestPath) == FileName ? result : result with { Diagnostics = [.. result.Diagnostics, OtherName(manifestPath, packageDir)] };
    }

    /// <summary>
    /// The fix for a manifest under another name (model.yml, Model.yaml): every command but `validate` looks for
    /// model.yaml exactly. The one wording of IM1001's hint and of <see cref="ManifestCodes.ManifestNameNotRead"/>'s.
    /// </summary>
    private static string RenameHint(string name) => $"rename {name} to {FileName}: a package's manifest is found by that name only";

    /// <summary>
    /// A manifest file named on the command line that `build`, `test` and `push` would not read: validating it alone
    /// would tell its user the package is fine while those commands find no model.yaml, or another one.
    /// </summary>
    private static ManifestDiagnostic OtherName(string manifestPath, string packageDir)
    {
        var name = Path.GetFileName(manifestPath);
        var read = File.Exists(Path.Combine(packageDir, FileName));
        return new ManifestDiagnostic(ManifestCodes.ManifestNameNotRead, DiagnosticSeverity.Warning, "", name, 0, 0,
            $"`infra build`, `test` and `push` read only {FileName} in {packageDir}, not {name}" + (read ? $": they read the {FileName} beside it, another file" : ""),
            read ? $"validate the {FileName} they read (`infra validate {packageDir}`), or replace it with {name}" : RenameHint(name));
    }

    /// <summary>
    /// Validates manifest bytes that travel without their package (from a registry entry): every rule except the
    /// ones about files (entrypoint and hooks must only be relative paths inside a package, no schema files, no Dockerfile).
    /// </summary>
    public static ManifestValidation ValidateContent(byte[] content, string sourceName = FileName) =>
        new Reader(sourceName, null, content, null).Run();

    /// <summary>
    /// Validates model.yaml bytes that travel with their resolved manifest (a publish statement): as
    /// <see cref="ValidateContent"/>, except that a schema given as a file (<c>input_schema: {$ref: schemas/in.json}</c>)
    /// is read from <paramref name="schemaFiles"/> (the schema the publisher resolved, by field name) and checked by the
    /// same rules. The result is then the whole manifest this model.yaml produces with those schemas, to compare with
    /// the one published.
    /// </summary>
    public static ManifestValidation ValidateWithSchemas(byte[] content, IReadOnlyDictionary<string, System.Text.Json.Nodes.JsonObject> schemaFiles) =>
        new Reader(FileName, null, content, schemaFiles).Run();

    private static ManifestValidation Fail(string manifestPath, string dir, string code, string message, string hint) =>
        new(manifestPath, dir, null, null,
            [new ManifestDiagnostic(code, DiagnosticSeverity.Error, "", Path.GetFileName(manifestPath), 0, 0, message, hint)]);

    /// <summary>The closest known name within two edits, for "did you mean".</summary>
    internal static string? Suggest(string given, IEnumerable<string> known)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var k in known)
        {
            var d = Levenshtein(given.ToLowerInvariant().Replace('-', '_'), k);
            if (d < bestDistance)
            {
                bestDistance = d;
                best = k;
            }
        }

        return bestDistance <= Math.Max(2, given.Length / 3) ? best : null;
    }

    private static int Levenshtein(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) prev[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (var j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }

        return prev[b.Length];
    }

    /// <summary>Reads one package, part by part, into one list of findings, in the order a user reads the manifest.</summary>
    private sealed class Reader(string manifestPath, string? packageDir, byte[]? content, IReadOnlyDictionary<string, System.Text.Json.Nodes.JsonObject>? schemaFiles)
    {
        private readonly ManifestFindings _findings = new(Path.GetFileName(manifestPath));

        public ManifestValidation Run()
        {
            var (text, digest) = ManifestText.Read(manifestPath, content, _findings);
            if (text is null) return Result(digest, null);

            var root = ManifestText.Parse(text, _findings);
            if (root is null) return Result(digest, null);
            if (root is not YMapping map)
            {
                _findings.Error(ManifestCodes.NotAMapping, "", root, $"{_findings.File} must be a mapping of fields, found {(root is YScalar { IsNull: false } ? "a " : "")}{root.Description}",
                    "start with `name: my-model` and one `key: value` per line");
                return Result(digest, null);
            }

            var fields = new ManifestFields(_findings, packageDir, schemaFiles);
            var manifest = fields.Read(map, digest!);
            if (manifest is not null && packageDir is not null) Dockerfile.Check(manifest, packageDir, _findings);
            return Result(digest, _findings.HasErrors ? null : manifest, fields.Name, fields.Version);
        }

        private ManifestValidation Result(string? digest, ModelManifest? manifest, string? name = null, SemVersion? version = null) =>
            new(manifestPath, packageDir ?? "", digest, manifest, _findings.All)
            {
                Name = name, Version = version, UnlistedErrors = _findings.UnlistedErrors, UnlistedWarnings = _findings.UnlistedWarnings,
            };
    }
}
