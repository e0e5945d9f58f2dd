using System.Globalization;
using System.Text;
using InfraMind.Testing;
using YamlDotNet.Core;

namespace InfraMind.Manifest.Tests;

/// <summary>
/// The limits and rules a hostile model.yaml meets, each at its value and one past it, with the exact code, place and
/// words of the finding (written from `scripts/mutation.sh manifest`: each test kills mutants no other test noticed).
/// </summary>
public sealed class ManifestLimitTests : IDisposable
{
    private static readonly string Corpus = Path.Combine(AppContext.BaseDirectory, "Corpus");
    private readonly TempDirectory _dir = new("im-manifest-limits");

    public ManifestLimitTests() => TempDirectory.Copy(Path.Combine(Corpus, "package"), _dir.Path);

    public void Dispose() => _dir.Dispose();

    private static string Spec => File.ReadAllText(Path.Combine(Corpus, "valid", "spec-example.yaml"));

    private ManifestValidation Validate(string text)
    {
        File.WriteAllText(_dir.Combine("model.yaml"), text);
        return ManifestReader.Validate(_dir.Path);
    }

    private static void At(ManifestDiagnostic finding, string code, string path, int line, int column)
    {
        Assert.Equal(code, finding.Code);
        Assert.Equal(path, finding.Path);
        Assert.Equal(("model.yaml", line, column), (finding.File, finding.Line, finding.Column));
    }

    [Theory]
    [InlineData("1", true)]
    [InlineData("65535", true)]
    [InlineData("0", false)]
    [InlineData("65536", false)]
    [InlineData("-1", false)]
    public void A_port_is_1_to_65535(string port, bool valid)
    {
        var result = Validate(Spec.Replace("port: 9000", $"port: {port}", StringComparison.Ordinal));
        if (valid)
        {
            Assert.Equal(int.Parse(port, System.Globalization.CultureInfo.InvariantCulture), Assert.IsType<ModelManifest>(result.Manifest).Port);
            return;
        }

        var error = Assert.Single(result.Errors);
        At(error, "IM1028", "port", 6, 7);
        Assert.Equal($"port {port} is out of range", error.Message);
        Assert.Equal("use a port between 1 and 65535, such as 9000", error.Hint);
        Assert.Null(result.Manifest);
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData("true", 1)]
    [InlineData("false", 0)]
    [InlineData("64", 64)]
    [InlineData("65", -1)]
    [InlineData("-1", -1)]
    [InlineData("\"1\"", -1)]
    [InlineData("[1]", -1)]
    public void A_gpu_count_is_0_to_64_or_a_boolean(string gpu, int expected)
    {
        var result = Validate(Spec.Replace("gpu: false", $"gpu: {gpu}", StringComparison.Ordinal));
        if (expected >= 0)
        {
            Assert.Equal(expected, Assert.IsType<ModelManifest>(result.Manifest).Resources.GpuCount);
            return;
        }

        var error = Assert.Single(result.Errors);
        At(error, "IM1032", "resources.gpu", 10, 8);
        var found = gpu == "[1]" ? "a list" : $"'{gpu.Trim('"')}'";
        Assert.Equal($"gpu must be true, false or a non-negative count, found {found}", error.Message);
        Assert.Equal("write gpu: false, gpu: true (one GPU) or gpu: 2", error.Hint);
    }

    [Fact]
    public void A_gpu_count_with_digit_separators_is_told_to_drop_them()
    {
        var error = Assert.Single(Validate(Spec.Replace("gpu: false", "gpu: 1_0", StringComparison.Ordinal)).Errors);
        At(error, "IM1032", "resources.gpu", 10, 8);
        Assert.Equal("YAML 1.2 has no digit separators: write 10", error.Hint);
    }

    /// <summary>A manifest of exactly <see cref="ManifestReader.MaxManifestBytes"/> is read; one byte more is refused unread.</summary>
    [Theory]
    [InlineData(0, true)]
    [InlineData(1, false)]
    public void A_manifest_is_at_most_one_mebibyte(int over, bool read)
    {
        var padding = ManifestReader.MaxManifestBytes + over - Encoding.UTF8.GetByteCount(Spec) - 2;
        var text = Spec + "\n#" + new string('x', (int)padding);
        Assert.Equal(ManifestReader.MaxManifestBytes + over, Encoding.UTF8.GetByteCount(text));
        foreach (var result in new[] { Validate(text), ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(text)) })
        {
            if (read)
            {
                Assert.True(result.IsValid, string.Join("\n", result.Errors));
                continue;
            }

            var error = Assert.Single(result.Errors);
            Assert.Equal(("IM1002", "", "model.yaml", 0, 0), (error.Code, error.Path, error.File, error.Line, error.Column));
            Assert.Equal("model.yaml is 1,048,577 bytes; the limit is 1,048,576", error.Message);
            Assert.Null(result.ManifestDigest);
        }
    }

    /// <summary>A schema file of exactly the manifest's limit is read; one byte more is refused at the $ref, unread.</summary>
    [Theory]
    [InlineData(0, true)]
    [InlineData(1, false)]
    public void A_schema_file_is_at_most_one_mebibyte(int over, bool read)
    {
        const string Schema = """{"type": "object", "properties": {"text": {"type": "string"}}}""";
        var text = Schema + new string(' ', (int)(ManifestReader.MaxManifestBytes + over - Schema.Length));
        _dir.Write("schemas/big.json", text);
        Assert.Equal(ManifestReader.MaxManifestBytes + over, new FileInfo(_dir.Combine("schemas", "big.json")).Length);
        var result = Validate(Spec.Replace("input_schema:\n  type: object\n  properties:\n    text:\n      type: string\n  required: [text]",
            "input_schema: {$ref: schemas/big.json}", StringComparison.Ordinal));
        if (read)
        {
            Assert.True(result.IsValid, string.Join("\n", result.Errors));
            return;
        }

        var error = Assert.Single(result.Errors);
        At(error, "IM1043", "input_schema.$ref", 11, 22);
        Assert.Equal("schemas/big.json is larger than 1,048,576 bytes", error.Message);
    }

    /// <summary>
    /// YAML nests at most 64 levels below the document's top (65 nodes deep): deeper is a syntax error at the node
    /// that goes too deep, never a stack overflow.
    /// </summary>
    [Fact]
    public void YAML_nests_at_most_64_levels_below_the_top()
    {
        var deepest = YamlTreeReader.Read(new string('[', 65) + new string(']', 65));
        var node = deepest.Root;
        var depth = 0;
        while (node is YSequence { Items.Count: 1 } s)
        {
            node = s.Items[0];
            depth++;
        }

        Assert.Equal(64, depth);
        var e = Assert.Throws<YamlException>(() => YamlTreeReader.Read(new string('[', 66) + new string(']', 66)));
        Assert.Equal("nesting deeper than 64 levels", e.Message);
        Assert.Equal((1, 66), ((int)e.Start.Line, (int)e.Start.Column));

        // In model.yaml: the root mapping is the top, `deep` at 1, its list 64 levels further down, and one more refused.
        Assert.Contains(Validate(Spec + "\ndeterministic: " + new string('[', 64) + new string(']', 64) + "\n").Errors, e => e.Code == "IM1012");
        var error = Assert.Single(Validate(Spec + "\ndeterministic: " + new string('[', 65) + new string(']', 65) + "\n").Errors);
        At(error, "IM1005", "", 26, 80);
        Assert.Equal("YAML syntax error: nesting deeper than 64 levels", error.Message);
    }

    /// <summary>
    /// A schema holds at most <see cref="ModelSchema.MaxValues"/> values: at the bound it is read, one past it is IM1046 at
    /// the schema (the cheap half of ManifestReaderTests' theory, which the mutation run leaves out for its 60,000 case:
    /// this one's name must not match that filter). A published schema file, which travels as JSON, is counted alike.
    /// </summary>
    [Theory]
    [InlineData(ModelSchema.MaxValues, true)]
    [InlineData(ModelSchema.MaxValues + 1, false)]
    public void A_schema_holds_4096_values_and_not_one_more(int values, bool valid)
    {
        var properties = new System.Text.Json.Nodes.JsonObject { ["text"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "string" } };
        for (var i = 0; i < (values - 7) / 2; i++) properties[$"f{i}"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "string" };
        var schema = new System.Text.Json.Nodes.JsonObject { ["type"] = "object" };
        if ((values - 7) % 2 == 1) schema["description"] = "odd";
        schema["properties"] = properties;
        schema["required"] = new System.Text.Json.Nodes.JsonArray("text");
        Assert.Equal(values, ModelSchema.CountValues(schema, int.MaxValue));
        Assert.Equal(Math.Min(values, ModelSchema.MaxValues + 1), ModelSchema.CountValues(schema));
        var result = Validate(Spec.Replace("input_schema:\n  type: object\n  properties:\n    text:\n      type: string\n  required: [text]",
            "input_schema: " + schema.ToJsonString(), StringComparison.Ordinal));
        var published = ManifestReader.ValidateWithSchemas(WithInputFile, new Dictionary<string, System.Text.Json.Nodes.JsonObject> { ["input_schema"] = schema });
        if (valid)
        {
            Assert.Equal(values, ModelSchema.CountValues(Assert.IsType<ModelManifest>(result.Manifest).InputSchema.Document, int.MaxValue));
            Assert.True(published.IsValid, string.Join("\n", published.Errors));
            return;
        }

        var error = Assert.Single(result.Errors);
        At(error, "IM1046", "input_schema", 11, 15);
        Assert.StartsWith("input_schema holds more than 4,096 values (objects, arrays and scalars, keywords' values included)", error.Message, StringComparison.Ordinal);
        error = Assert.Single(published.Errors);
        Assert.Equal(("IM1046", "schemas/in.json", 0), (error.Code, error.File, error.Line));
        Assert.StartsWith("input_schema holds more than 4,096 values", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tab_in_indentation_is_found_on_every_line_at_its_column()
    {
        var text = Spec.Replace("  cpu: 2", "  \tcpu: 2", StringComparison.Ordinal).Replace("  gpu: false", "\tgpu: false", StringComparison.Ordinal) + "note: \"a\ttab inside a value is fine\"\n";
        var errors = Validate(text).Errors.ToList();
        Assert.Equal(2, errors.Count);
        At(errors[0], "IM1006", "", 8, 3);
        At(errors[1], "IM1006", "", 10, 1);
        Assert.Equal("a tab is used for indentation; YAML allows only spaces", errors[0].Message);
    }

    [Fact]
    public void A_NUL_byte_is_not_text_and_is_found_at_its_line_and_column()
    {
        var error = Assert.Single(Validate("name: x\nversion: 1\0\n").Errors);
        At(error, "IM1003", "", 2, 11);
        Assert.Equal("model.yaml is not UTF-8 text (it contains NUL bytes)", error.Message);

        // Columns count characters, as the YAML reader's do: "é" is two bytes but one column, "😀" four bytes and two
        // UTF-16 units (an editor's two columns).
        At(Assert.Single(Validate("name: x\nversion: \u00e91\0\n").Errors), "IM1003", "", 2, 12);
        At(Assert.Single(Validate("name: \U0001F600\0\n").Errors), "IM1003", "", 1, 9);
        var invalid = Assert.Single(ManifestReader.ValidateContent([(byte)'n', 0xC3, 0x28]).Errors);
        Assert.Equal("IM1003", invalid.Code);
        Assert.Equal(("model.yaml is not UTF-8 text", 0, 0), (invalid.Message, invalid.Line, invalid.Column));
    }

    [Theory]
    [InlineData("")]
    [InlineData(" \n\t\r\n")]
    public void An_empty_or_blank_manifest_is_IM1004(string text)
    {
        var result = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(text));
        var error = Assert.Single(result.Errors);
        Assert.Equal(("IM1004", "model.yaml is empty", 0), (error.Code, error.Message, error.Line));
        Assert.NotNull(result.ManifestDigest);
    }

    [Fact]
    public void A_syntax_error_is_located_and_said_without_the_parsers_position_prefix()
    {
        // YamlDotNet's message starts "(Line: 9, Col: 11, Idx: …) - (…): ": the finding has the place in its own fields.
        var error = Assert.Single(Validate(Spec.Replace("  memory: 4Gi", "    memory: 4Gi", StringComparison.Ordinal)).Errors);
        At(error, "IM1005", "", 9, 11);
        Assert.StartsWith("YAML syntax error: While scanning a plain scalar", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Line:", error.Message, StringComparison.Ordinal);

        // YamlDotNet throws other exceptions at an unclosed flow sequence: the same code, with no place to point at.
        error = Assert.Single(Validate("name: x\nversion: [1, 2\nport: 3\n").Errors);
        At(error, "IM1005", "", 0, 0);
        Assert.Equal("YAML syntax error: the document ends inside an unclosed construct or is malformed", error.Message);
    }

    [Fact]
    public void An_unknown_alias_is_a_syntax_error_at_the_alias()
    {
        var error = Assert.Single(Validate(Spec + "\ndeterministic: *nowhere\n").Errors);
        At(error, "IM1005", "", 26, 16);
        Assert.Equal("YAML syntax error: unknown alias *nowhere", error.Message);
    }

    [Fact]
    public void Duplicate_keys_are_found_where_they_repeat_naming_the_first()
    {
        var errors = Validate(Spec + "port: 1\nresources: {}\n").Errors.Where(e => e.Code == "IM1007").ToList();
        Assert.Equal(2, errors.Count);
        At(errors[0], "IM1007", "port", 25, 1);
        Assert.Equal("'port' appears twice (first on line 6)", errors[0].Message);
        At(errors[1], "IM1007", "resources", 26, 1);
        Assert.Equal("'resources' appears twice (first on line 7)", errors[1].Message);
    }

    [Fact]
    public void A_second_document_is_IM1009()
    {
        var error = Assert.Single(Validate(Spec + "---\nname: other\n").Errors);
        Assert.Equal(("IM1009", "model.yaml holds more than one YAML document ('---')"), (error.Code, error.Message));
    }

    [Theory]
    [InlineData("# nothing\n", "model.yaml has no fields")]
    [InlineData("~\n", "model.yaml has no fields")]
    [InlineData("[a, b]\n", "model.yaml must be a mapping of fields, found a list")]
    [InlineData("just text\n", "model.yaml must be a mapping of fields, found a string 'just text'")]
    public void A_manifest_that_is_not_a_mapping_says_what_it_is(string text, string message)
    {
        var error = Assert.Single(Validate(text).Errors);
        Assert.Equal(message, error.Message);
        Assert.Equal(message.Contains("no fields", StringComparison.Ordinal) ? "IM1004" : "IM1008", error.Code);
    }

    /// <summary>A finding quotes the package, so its message is cut to 400 characters (start and end kept) and its control characters escaped.</summary>
    [Fact]
    public void A_long_or_hostile_key_is_quoted_cut_and_escaped()
    {
        var key = "k" + new string('a', 998) + "z";
        var error = Assert.Single(Validate(Spec + $"{key}: 1\n").Errors);
        // The path is cut alike: the key is the stranger's.
        At(error, "IM1011", $"{key[..180]}…(640 characters cut)…{key[^180..]}", 25, 1);
        var full = $"unknown field '{key}'";
        Assert.Equal($"{full[..180]}…(656 characters cut)…{full[^180..]}", error.Message);
        Assert.True(error.Message.Length <= ManifestFindings.MaxMessageLength, error.Message);

        // 400 characters are kept whole.
        var kept = new string('b', 400 - "unknown field ''".Length);
        Assert.Equal($"unknown field '{kept}'", Assert.Single(Validate(Spec + $"{kept}: 1\n").Errors).Message);

        error = Assert.Single(Validate(Spec + "\"a\\e[31mred\": 1\n").Errors);
        Assert.Equal("unknown field 'a\\u001B[31mred'", error.Message);
    }

    [Fact]
    public void Only_the_first_five_unknown_dockerfile_instructions_are_warned_of()
    {
        File.WriteAllText(_dir.Combine("Dockerfile"), "FROM python:3.10-slim\n" + string.Concat(Enumerable.Range(0, 7).Select(i => $"BAD{i} x\n")) + "CMD [\"python3\", \"serve.py\"]\n");
        var warnings = Validate(Spec).Warnings.Where(w => w.Code == "IM1053").ToList();
        Assert.Equal([2, 3, 4, 5, 6], warnings.Select(w => w.Line));
        Assert.All(warnings, w => Assert.Equal(("Dockerfile", 1), (w.File, w.Column)));
    }
    [Theory]
    [InlineData("0x0", 0)]
    [InlineData("0x40", 64)]
    [InlineData("0o7", 7)]
    [InlineData("0o100", 64)]
    [InlineData("+0", 0)]
    [InlineData("0xFFFFFFFFFFFFFFFF", -1)]
    [InlineData("0x-1", -1)]
    [InlineData("0o8", -1)]
    [InlineData("+", -1)]
    [InlineData("1e1", -1)]
    public void YAML_1_2_integer_forms_are_read_exactly(string written, int gpus)
    {
        var result = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(Spec.Replace("gpu: false", $"gpu: {written}", StringComparison.Ordinal)));
        if (gpus >= 0)
        {
            Assert.Equal(gpus, Assert.IsType<ModelManifest>(result.Manifest).Resources.GpuCount);
            return;
        }

        Assert.Equal("IM1032", Assert.Single(result.Errors).Code);
    }

    /// <summary>An octal integer is at most 21 digits (63 bits, long.MaxValue); a hex one that would be negative as a long is no number.</summary>
    [Theory]
    [InlineData("0o777777777777777777777", "IM1028", "port 9223372036854775807 is out of range")]
    [InlineData("0o0777777777777777777777", "IM1012", "port must be an integer, found string '0o0777777777777777777777'")]
    [InlineData("0x7FFFFFFFFFFFFFFF", "IM1028", "port 9223372036854775807 is out of range")]
    [InlineData("0x8000000000000000", "IM1012", "port must be an integer, found string '0x8000000000000000'")]
    [InlineData("9223372036854775808", "IM1012", "port must be an integer, found number '9223372036854775808'")]
    [InlineData("1.5", "IM1012", "port must be an integer, found number '1.5'")]
    [InlineData("true", "IM1012", "port must be an integer, found boolean 'true'")]
    [InlineData("null", "IM1012", "'port' must be an integer, found nothing 'null'")]
    [InlineData("[9000]", "IM1012", "'port' must be an integer, found a list")]
    public void A_port_past_a_long_or_of_another_type_says_what_it_found(string written, string code, string message)
    {
        var error = Assert.Single(ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(Spec.Replace("port: 9000", $"port: {written}", StringComparison.Ordinal))).Errors);
        At(error, code, "port", 6, 7);
        Assert.Equal(message, error.Message);
    }

    [Theory]
    [InlineData("9223372036854775807", true, "")]
    [InlineData("9223372036854775808", false, "'9223372036854775808' is too large")]
    [InlineData("8Ei", false, "'8Ei' is too large")]
    [InlineData("99999999999Ei", false, "'99999999999Ei' is too large")]
    [InlineData("0.5", false, "'0.5' is not a whole number of bytes")]
    [InlineData("1ki", false, "unknown suffix 'ki'")]
    [InlineData("1 Gi", false, "'1 Gi' is not a quantity")]
    [InlineData(" 1Gi ", true, "")]
    [InlineData("1Gi", true, "")]
    public void A_size_in_bytes_fits_a_long_and_says_why_not(string text, bool ok, string error)
    {
        Assert.Equal(ok, Quantity.TryParseBytes(text, out var bytes, out var why));
        Assert.Equal(error, why);
        Assert.Equal(ok ? bytes : 0, bytes);
        if (ok) Assert.True(bytes > 0);
    }

    [Theory]
    [InlineData("1000000000m", 1_000_000_000L, "")]
    [InlineData("1000000001m", -1L, "'1000000001m' is too large")]
    [InlineData("1000000", 1_000_000_000L, "")]
    [InlineData("1000001", -1L, "'1000001' is too large")]
    [InlineData("1.5m", -1L, "'1.5m' is not a whole number of millicores")]
    [InlineData("m", -1L, "'m' is not a whole number of millicores")]
    [InlineData("-1m", -1L, "'-1m' is not a whole number of millicores")]
    [InlineData("two", -1L, "'two' is not a number of cores")]
    [InlineData("0", -1L, "cpu must be greater than 0")]
    [InlineData("0.0005", -1L, "'0.0005' is finer than 1 millicore (1m = 0.001 cores)")]
    [InlineData("0.001", 1L, "")]
    [InlineData(" 2 ", 2000L, "")]
    public void Cpu_is_1m_to_a_million_cores_and_says_why_not(string text, long millicores, string error)
    {
        Assert.Equal(millicores > 0, Quantity.TryParseMillicores(text, out var m, out var why));
        Assert.Equal(error, why);
        Assert.Equal(Math.Max(millicores, 0), m);
    }

    [Theory]
    [InlineData("cpu: 0", "IM1030", "resources.cpu", 8, 8, "cpu: cpu must be greater than 0")]
    [InlineData("cpu: true", "IM1030", "resources.cpu", 8, 8, "cpu: found boolean 'true'")]
    [InlineData("cpu: [1]", "IM1030", "resources.cpu", 8, 8, "cpu: found a list")]
    [InlineData("cpu: ~", "IM1030", "resources.cpu", 8, 8, "cpu: found nothing '~'")]
    [InlineData("memory: 0.5", "IM1031", "resources.memory", 8, 11, "memory: '0.5' is not a whole number of bytes")]
    public void A_resource_quantity_is_refused_at_its_value(string line, string code, string path, int l, int c, string message)
    {
        var text = Spec.Replace("  cpu: 2\n", "", StringComparison.Ordinal).Replace("  memory: 4Gi\n", "", StringComparison.Ordinal)
            .Replace("resources:\n", $"resources:\n  {line}\n", StringComparison.Ordinal);
        var result = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(text));
        var error = Assert.Single(result.Errors);
        At(error, code, path, l, c);
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Both_resource_quantities_are_checked_when_both_are_wrong_and_defaults_fill_what_is_left_out()
    {
        var errors = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(Spec.Replace("cpu: 2", "cpu: 0", StringComparison.Ordinal).Replace("memory: 4Gi", "memory: 1Ki", StringComparison.Ordinal))).Errors.ToList();
        Assert.Equal(["IM1030", "IM1031"], errors.Select(e => e.Code));
        Assert.Null(ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(Spec.Replace("memory: 4Gi", "memory: 1Ki", StringComparison.Ordinal))).Manifest);
        var defaults = Assert.IsType<ModelManifest>(ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(Spec.Replace("  cpu: 2\n  memory: 4Gi\n", "", StringComparison.Ordinal))).Manifest);
        Assert.Equal(new ResourceRequest(1000, 512L << 20, 0), defaults.Resources);
    }

    [Theory]
    [InlineData("\"\"", "the path is empty")]
    [InlineData("\"serve\\0.py\"", "the path contains a NUL character")]
    [InlineData("/etc/passwd", "'/etc/passwd' is absolute; paths are relative to the package directory")]
    [InlineData("~/serve.py", "'~/serve.py' is absolute; paths are relative to the package directory")]
    [InlineData("a/../../serve.py", "'a/../../serve.py' uses '..'; it must stay inside the package directory")]
    [InlineData("'a\\..\\serve.py'", "'a\\..\\serve.py' uses '..'; it must stay inside the package directory")]
    public void A_path_must_be_relative_and_stay_inside_with_or_without_the_package(string written, string message)
    {
        var text = Spec.Replace("entrypoint: serve.py", $"entrypoint: {written}", StringComparison.Ordinal);
        foreach (var result in new[] { ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(text)), Validate(text) })
        {
            var error = Assert.Single(result.Errors);
            At(error, "IM1022", "entrypoint", 3, 13);
            Assert.Equal(message.Replace("\0", "\\u0000", StringComparison.Ordinal), error.Message);
        }
    }

    [Fact]
    public void A_path_that_is_a_directory_or_missing_is_told_apart()
    {
        var dir = Assert.Single(Validate(Spec.Replace("entrypoint: serve.py", "entrypoint: hooks", StringComparison.Ordinal)).Errors);
        At(dir, "IM1022", "entrypoint", 3, 13);
        Assert.Equal("'hooks' is a directory, not a file", dir.Message);
        var missing = Assert.Single(Validate(Spec.Replace("entrypoint: serve.py", "entrypoint: nope.py", StringComparison.Ordinal)).Errors);
        At(missing, "IM1023", "entrypoint", 3, 13);
        Assert.Equal($"'nope.py' does not exist in {_dir.Path}", missing.Message);
    }

    [Theory]
    [InlineData("nxmx", "did you mean 'name'?")]
    [InlineData("Input-Schema", "did you mean 'input_schema'?")]
    [InlineData("xyz", "known fields: name, version, entrypoint, runtime, protocol, port, resources, input_schema, output_schema, hooks, timeout, deterministic")]
    public void An_unknown_field_is_suggested_within_two_edits_or_a_third_of_its_length(string key, string hint)
    {
        var error = Assert.Single(ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(Spec + $"{key}: 1\n")).Errors);
        At(error, "IM1011", key, 25, 1);
        Assert.Equal($"unknown field '{key}'", error.Message);
        Assert.Equal(hint, error.Hint);
    }

    [Fact]
    public void Suggestions_allow_a_third_of_the_length_in_edits()
    {
        // 13 characters: 4 edits are within a third; 5 are not.
        Assert.Equal("deterministic", ManifestReader.Suggest("determXnXsXXc", ManifestReader.TopLevelKeys));
        Assert.Null(ManifestReader.Suggest("dXtermXnXsXXc", ManifestReader.TopLevelKeys));
        Assert.Equal("port", ManifestReader.Suggest("pXrX", ManifestReader.TopLevelKeys));
        Assert.Null(ManifestReader.Suggest("pXXX", ManifestReader.TopLevelKeys));
    }
    private List<ManifestDiagnostic> DockerfileWarnings(string dockerfile)
    {
        File.WriteAllText(_dir.Combine("Dockerfile"), dockerfile);
        var result = Validate(Spec);
        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.All(result.Warnings, w => Assert.Equal(("Dockerfile", w.Line > 0 ? 1 : 0), (w.File, w.Column)));
        return [.. result.Warnings];
    }

    [Fact]
    public void Each_stage_exposes_its_own_ports_and_a_mismatch_names_them_all()
    {
        Assert.Empty(DockerfileWarnings("FROM a\nEXPOSE 8080\nFROM b\nEXPOSE 8081/tcp 9000/tcp\nCMD python3 serve.py\n"));
        var warning = Assert.Single(DockerfileWarnings("FROM a\nEXPOSE 9000\nFROM b\nEXPOSE 8080  8081/udp x\nCMD python3 serve.py\n"));
        Assert.Equal(("IM1051", "port", 4), (warning.Code, warning.Path, warning.Line));
        Assert.Equal("the Dockerfile exposes 8080, 8081 but model.yaml declares port 9000", warning.Message);
        Assert.Equal("make them agree: `EXPOSE 9000` or `port: 8080`", warning.Hint);
        Assert.Empty(DockerfileWarnings("FROM a\nEXPOSE 8080\nFROM b\nCMD python3 serve.py\n"));
    }

    [Fact]
    public void The_last_command_is_the_one_compared_with_the_entrypoint()
    {
        Assert.Empty(DockerfileWarnings("FROM a\nCMD [\"python3\", \"other.py\"]\nENTRYPOINT [\"python3\", \"serve.py\"]\n"));
        var warning = Assert.Single(DockerfileWarnings("FROM a\nENTRYPOINT [\"python3\", \"serve.py\"]\nCMD [\"python3\", \"other.py\"]\n"));
        Assert.Equal(("IM1052", "entrypoint", 3), (warning.Code, warning.Path, warning.Line));
        Assert.Equal("the Dockerfile's CMD ([\"python3\", \"other.py\"]) does not mention the entrypoint 'serve.py'", warning.Message);
        Assert.Empty(DockerfileWarnings("FROM a\nRUN echo\n"));
    }

    [Theory]
    [InlineData("", 1, "the Dockerfile is empty (0 bytes); the engine will refuse to build")]
    [InlineData("ARG BASE=x\n", 1, "the Dockerfile has no instruction; the engine will refuse to build")]
    [InlineData("\n", 1, "the Dockerfile has no instruction; the engine will refuse to build")]
    [InlineData("ARG BASE=x\nFROM $BASE\n", -1, null)]
    [InlineData("# syntax=docker/dockerfile:1\n\n# escape=`\nFROM a\n", -1, null)]
    [InlineData("\n\nRUN echo\nFROM a\n", 3, "the Dockerfile's first instruction is RUN, not FROM; the engine will refuse to build")]
    public void The_first_instruction_but_ARG_must_be_FROM(string dockerfile, int line, string? message)
    {
        var warnings = DockerfileWarnings(dockerfile);
        if (line < 0)
        {
            Assert.Empty(warnings);
            return;
        }

        var warning = Assert.Single(warnings);
        Assert.Equal(("IM1054", "", line, message), (warning.Code, warning.Path, warning.Line, warning.Message));
    }

    [Fact]
    public void An_unknown_instruction_is_named_cut_to_40_characters_and_hides_the_FROM_warning()
    {
        var name = new string('Y', 45);
        var warning = Assert.Single(DockerfileWarnings($"{name} x\nRUN echo\n"));
        Assert.Equal(("IM1053", 1), (warning.Code, warning.Line));
        Assert.Equal($"'{name[..40]}' is not a Dockerfile instruction; the engine will refuse to build", warning.Message);
    }

    [Theory]
    // A continuation or a here-document that never ends, at the end of the file: read to the end, no warning.
    [InlineData("FROM a\nRUN echo \\")]
    [InlineData("FROM a\nRUN echo \\\n\n# only a comment\n")]
    [InlineData("FROM a\nRUN <<EOF\nnot an instruction\n")]
    [InlineData("FROM a\nRUN <<-EOF\n\tnot an instruction\n\tEOF\nCMD python3 serve.py\n")]
    public void A_dockerfile_that_ends_inside_an_instruction_is_read_to_its_end(string dockerfile) =>
        Assert.Empty(DockerfileWarnings(dockerfile));

    [Fact]
    public void A_here_document_ends_at_its_own_word_only()
    {
        // <<EOF ends at "EOF", not at "  EOF" nor at "EOF2": what follows is instructions again.
        var warning = Assert.Single(DockerfileWarnings("FROM a\nRUN <<EOF\n  EOF\nEOF2\nEOF\nBAD x\n"));
        Assert.Equal(("IM1053", 6), (warning.Code, warning.Line));
        // A directive other than escape, and an escape directive after an instruction (a comment then), change nothing.
        Assert.Equal(4, Assert.Single(DockerfileWarnings("FROM a\n# escape=`\nRUN a `\nBAD x\n")).Line);
    }
    private const string InlineInput = "input_schema:\n  type: object\n  properties:\n    text:\n      type: string\n  required: [text]";

    private static byte[] WithInputFile => Encoding.UTF8.GetBytes(Spec.Replace(InlineInput, "input_schema: {$ref: schemas/in.json}", StringComparison.Ordinal));

    /// <summary>
    /// A publish statement's model.yaml names its schema files; the schemas travel resolved beside it and are checked by
    /// the same rules. A finding in one names that file, at no line: the published JSON has none, and model.yaml's line of
    /// the $ref is not a line of the schema file.
    /// </summary>
    [Fact]
    public void A_published_schema_file_is_checked_by_the_same_rules_and_its_findings_name_the_file_at_no_line()
    {
        var schema = (System.Text.Json.Nodes.JsonObject)System.Text.Json.Nodes.JsonNode.Parse("""{"type": "object", "properties": {"text": {"type": "string", "pattern": "^x$"}}}""")!;
        var ok = ManifestReader.ValidateWithSchemas(WithInputFile, new Dictionary<string, System.Text.Json.Nodes.JsonObject> { ["input_schema"] = schema });
        Assert.True(ok.IsValid, string.Join("\n", ok.Errors));
        Assert.Equal(schema.ToJsonString(), ok.Manifest!.InputSchema.Document.ToJsonString());
        // The caller's object is not taken over (nor changed).
        Assert.NotSame(schema, ok.Manifest.InputSchema.Document);

        schema["properties"]!["text"]!["pattern"] = "(a)\\1";
        var refused = ManifestReader.ValidateWithSchemas(WithInputFile, new Dictionary<string, System.Text.Json.Nodes.JsonObject> { ["input_schema"] = schema });
        var error = Assert.Single(refused.Errors);
        Assert.Equal(("IM1045", "input_schema.properties.text.pattern", "schemas/in.json", 0, 0), (error.Code, error.Path, error.File, error.Line, error.Column));
        Assert.Equal("schemas/in.json", error.Location);

        schema["properties"]!["text"]!["pattern"] = "^x$";
        schema["type"] = "array";
        error = Assert.Single(ManifestReader.ValidateWithSchemas(WithInputFile, new Dictionary<string, System.Text.Json.Nodes.JsonObject> { ["input_schema"] = schema }).Errors);
        Assert.Equal(("IM1042", "input_schema.type", "schemas/in.json", 0), (error.Code, error.Path, error.File, error.Line));
        Assert.Equal("the top-level type of input_schema must be 'object', found \"array\"", error.Message);
    }

    [Fact]
    public void A_schema_file_the_statement_does_not_carry_is_refused_at_the_ref()
    {
        var error = Assert.Single(ManifestReader.ValidateWithSchemas(WithInputFile, new Dictionary<string, System.Text.Json.Nodes.JsonObject>()).Errors);
        At(error, "IM1043", "input_schema.$ref", 11, 22);
        Assert.Equal("input_schema refers to the file schemas/in.json, which is not part of this manifest", error.Message);
    }

    [Theory]
    [InlineData("", "schemas/in.json is not a readable JSON/YAML schema: the file is empty", 1)]
    [InlineData("{\"type\": \"object\",\n \"properties\": {]}\n", "schemas/in.json is not a readable JSON/YAML schema: ", 2)]
    [InlineData("{\"type\": \"object\", \"x\": \"a\u0000b\"}", "schemas/in.json is not a readable JSON/YAML schema: NUL", 0)]
    public void A_schema_file_that_is_not_a_schema_is_IM1043_in_that_file(string content, string message, int line)
    {
        File.WriteAllText(_dir.Combine("schemas", "in.json"), content);
        var error = Assert.Single(Validate(Encoding.UTF8.GetString(WithInputFile)).Errors);
        Assert.Equal(("IM1043", "input_schema.$ref", "schemas/in.json", line), (error.Code, error.Path, error.File, error.Line));
        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_schema_file_with_a_BOM_and_tabs_reads_and_its_duplicate_keys_are_found_in_it()
    {
        File.WriteAllText(_dir.Combine("schemas", "in.json"), "\uFEFF{\n\t\"type\": \"object\",\n\t\"properties\": {\"text\": {\"type\": \"string\"}}\n}\n");
        Assert.True(Validate(Encoding.UTF8.GetString(WithInputFile)).IsValid);
        File.WriteAllText(_dir.Combine("schemas", "in.json"), "{\"type\": \"object\",\n \"type\": \"object\"}\n");
        var error = Assert.Single(Validate(Encoding.UTF8.GetString(WithInputFile)).Errors);
        Assert.Equal(("IM1007", "type", "schemas/in.json", 2, 2), (error.Code, error.Path, error.File, error.Line, error.Column));
        Assert.Equal("'type' appears twice (first on line 1)", error.Message);
    }

    [Theory]
    [InlineData("http://json-schema.org/draft-07/schema#", true)]
    [InlineData("http://json-schema.org/draft-07/schema", true)]
    [InlineData("https://json-schema.org/draft/2020-12/schema", false)]
    public void A_schema_is_draft_07(string dialect, bool accepted)
    {
        var result = Validate(Spec.Replace("input_schema:\n  type: object\n", $"input_schema:\n  $schema: '{dialect}'\n  type: object\n", StringComparison.Ordinal));
        if (accepted)
        {
            Assert.True(result.IsValid, string.Join("\n", result.Errors));
            return;
        }

        var error = Assert.Single(result.Errors);
        At(error, "IM1044", "input_schema.$schema", 12, 3);
        Assert.Equal($"input_schema declares $schema '{dialect}'; InfraMind schemas are JSON Schema draft-07", error.Message);
    }

    [Theory]
    [InlineData("type: [object]", "the top-level type of input_schema must be 'object', found [\"object\"]", 12, 9)]
    [InlineData("type: string", "the top-level type of input_schema must be 'object', found \"string\"", 12, 3)]
    [InlineData("description: none", "the top-level type of input_schema must be 'object' (it has no type)", 12, 3)]
    public void A_schemas_top_level_type_is_object(string line, string message, int l, int c)
    {
        var error = Assert.Single(Validate(Spec.Replace(InlineInput, $"input_schema:\n  {line}", StringComparison.Ordinal)).Errors);
        At(error, "IM1042", "input_schema.type", l, c);
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void A_schema_type_that_is_no_type_is_said_in_one_message()
    {
        var error = Assert.Single(Validate(Spec.Replace("      type: string\n  required", "      type: text\n  required", StringComparison.Ordinal)).Errors);
        At(error, "IM1040", "input_schema.properties.text.type", 15, 7);
        Assert.Equal("input_schema is not a valid draft-07 schema at /properties/text/type: 'type' must be one of string, number, integer, boolean, object, array, null, or a list of them", error.Message);
    }
    private static ManifestDiagnostic OneError(string from, string to) =>
        Assert.Single(ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(Spec.Replace(from, to, StringComparison.Ordinal))).Errors);

    [Theory]
    [InlineData("My_Model", "name 'My_Model' is not a lowercase DNS label", ", e.g. 'my-model'")]
    [InlineData("a-", "name 'a-' is not a lowercase DNS label", ", e.g. 'a'")]
    [InlineData("'---'", "name '---' is not a lowercase DNS label", "")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-b", "name is 65 characters; the limit is 63", ", e.g. 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'")]
    public void A_name_that_is_not_a_DNS_label_gets_a_fixed_one_when_there_is_one(string written, string message, string example)
    {
        var error = OneError("name: summarizer-v1", $"name: {written}");
        At(error, "IM1020", "name", 1, 7);
        Assert.Equal(message, error.Message);
        Assert.Equal("use lowercase letters, digits and '-', starting and ending with a letter or digit" + example, error.Hint);
    }

    [Fact]
    public void A_name_and_version_are_reported_even_when_other_fields_are_wrong()
    {
        var result = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(Spec.Replace("port: 9000", "port: 0", StringComparison.Ordinal)));
        Assert.Null(result.Manifest);
        Assert.Equal(("summarizer-v1", "0.4.2"), (result.Name, result.Version?.ToString()));
        result = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(Spec.Replace("name: summarizer-v1", "name: Bad", StringComparison.Ordinal).Replace("version: 0.4.2", "version: x", StringComparison.Ordinal)));
        Assert.Equal((null, null), (result.Name, result.Version));
    }

    [Theory]
    [InlineData("\"1\"", "use MAJOR.MINOR.PATCH with an optional -prerelease and +build, e.g. 0.4.2 or 1.0.0-rc.1")]
    [InlineData("1.2.x", "use MAJOR.MINOR.PATCH with an optional -prerelease and +build, e.g. 0.4.2 or 1.0.0-rc.1")]
    public void A_quoted_short_version_gets_the_general_hint(string written, string hint)
    {
        var error = OneError("version: 0.4.2", $"version: {written}");
        At(error, "IM1021", "version", 2, 10);
        Assert.Equal($"version '{written.Trim('"')}' is not SemVer 2.0", error.Message);
        Assert.Equal(hint, error.Hint);
    }

    [Theory]
    [InlineData("custom", true)]
    [InlineData("node20", true)]
    [InlineData("python3.10.1", true)]
    [InlineData("c++17", true)]
    [InlineData("python", false)]
    [InlineData("Python3", false)]
    [InlineData("python3.", false)]
    [InlineData("3.10", false)]
    [InlineData("customs", false)]
    public void A_runtime_is_a_language_and_version_or_custom(string runtime, bool valid)
    {
        var result = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(Spec.Replace("runtime: python3.10", $"runtime: '{runtime}'", StringComparison.Ordinal)));
        if (valid)
        {
            Assert.Equal(runtime, Assert.IsType<ModelManifest>(result.Manifest).Runtime);
            return;
        }

        var error = Assert.Single(result.Errors);
        At(error, "IM1026", "runtime", 4, 10);
        Assert.Equal($"runtime '{runtime}' is not <language><version> or 'custom'", error.Message);
    }

    [Theory]
    [InlineData("grpc", "")]
    [InlineData("GRPC", "write it in lowercase: 'grpc'")]
    [InlineData("Rest", "write it in lowercase: 'rest'")]
    [InlineData("http", "use rest (POST / with JSON) or grpc")]
    public void A_protocol_is_rest_or_grpc_in_lowercase(string protocol, string hint)
    {
        var result = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(Spec.Replace("protocol: rest", $"protocol: {protocol}", StringComparison.Ordinal)));
        if (hint.Length == 0)
        {
            Assert.Equal(ModelProtocol.Grpc, Assert.IsType<ModelManifest>(result.Manifest).Protocol);
            return;
        }

        var error = Assert.Single(result.Errors);
        At(error, "IM1027", "protocol", 5, 11);
        Assert.Equal($"protocol '{protocol}' is not supported", error.Message);
        Assert.Equal(hint, error.Hint);
    }

    [Theory]
    [InlineData("hooks: ~\n", null, null, null)]
    [InlineData("hooks: {}\n", null, null, null)]
    [InlineData("hooks: {warmup: hooks/init.sh}\n", null, "hooks/init.sh", null)]
    [InlineData("", null, null, null)]
    public void Hooks_are_optional_and_each_is_read_by_its_name(string hooks, string? init, string? warmup, string? health)
    {
        var text = Spec[..Spec.IndexOf("hooks:", StringComparison.Ordinal)] + hooks;
        var result = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(text));
        Assert.Equal(new HookSet(init, warmup, health), Assert.IsType<ModelManifest>(result.Manifest).Hooks);
    }

    [Theory]
    [InlineData("  initt: hooks/init.sh\n", "IM1025", "hooks.initt", 23, 3, "unknown hook 'initt'", "did you mean 'init'?")]
    [InlineData("  before: hooks/init.sh\n", "IM1025", "hooks.before", 23, 3, "unknown hook 'before'", "hooks are init, warmup and healthcheck")]
    [InlineData("  warmup: /bin/sh\n", "IM1022", "hooks.warmup", 23, 11, "'/bin/sh' is absolute; paths are relative to the package directory", "write a path relative to the package directory, such as hooks/init.sh")]
    public void A_wrong_hook_is_found_at_its_key_or_its_path_and_the_rest_still_read(string hook, string code, string path, int line, int column, string message, string hint)
    {
        var text = Spec.Replace("hooks:\n", "hooks:\n" + hook, StringComparison.Ordinal);
        var result = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(text));
        var error = Assert.Single(result.Errors);
        At(error, code, path, line, column);
        Assert.Equal((message, hint), (error.Message, error.Hint));
        Assert.Null(result.Manifest);
    }

    [Theory]
    [InlineData("timeout: \"3\"", false)]
    [InlineData("timeout: \"3s\"", true)]
    [InlineData("timeout: 1.5e2", true)]
    [InlineData("timeout: ~", false)]
    [InlineData("timeout: [3s]", false)]
    public void A_timeout_is_a_bare_number_of_seconds_only_unquoted(string line, bool valid)
    {
        var result = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(Spec + line + "\n"));
        if (valid)
        {
            Assert.True(result.IsValid, string.Join("\n", result.Errors));
            return;
        }

        var error = Assert.Single(result.Errors);
        Assert.Equal(("timeout", 25, 10), (error.Path, error.Line, error.Column));
        Assert.Equal(line.Contains('"', StringComparison.Ordinal) ? "IM1033" : "IM1012", error.Code);
    }

    [Fact]
    public void Findings_are_listed_by_file_then_line_and_column_and_a_missing_path_is_IM1000()
    {
        File.WriteAllText(_dir.Combine("schemas", "in.json"), "{\"type\": \"string\"}");
        var result = Validate(Encoding.UTF8.GetString(WithInputFile).Replace("port: 9000", "port: 0", StringComparison.Ordinal).Replace("name: summarizer-v1", "name: Bad", StringComparison.Ordinal) + "xtra: 1\n");
        Assert.Equal(["model.yaml:1:7", "model.yaml:6:7", "model.yaml:20:1", "schemas/in.json:1:2"], result.Errors.Select(e => e.Location));
        Assert.Equal("model.yaml:1:7: error IM1020: name 'Bad' is not a lowercase DNS label [name] (hint: use lowercase letters, digits and '-', starting and ending with a letter or digit, e.g. 'bad')", result.Errors.First().ToString());
        var e = Assert.Throws<ManifestException>(() => ManifestReader.Validate(_dir.Combine("nope")).EnsureValid());
        Assert.Equal(ManifestCodes.PathNotFound, e.Code);
        Assert.Equal($"{_dir.Combine("nope")} does not exist", e.Message);
        Assert.Equal("1 warning", ManifestValidation.Plural(1, "warning"));
        Assert.Equal("0 errors", ManifestValidation.Plural(0, "error"));
    }
    /// <summary>
    /// A link out of the package is found however many links lead to it: Linux follows at most 40 in one path, and
    /// every one of those is resolved here (a chain one longer opens nowhere, and is missing).
    /// </summary>
    [Theory]
    [InlineData(40, "IM1024")]
    [InlineData(41, "IM1023")]
    public void A_chain_of_links_out_of_the_package_is_followed_as_far_as_the_system_follows_it(int links, string code)
    {
        using var outside = new TempDirectory("im-outside");
        File.WriteAllText(outside.Combine("serve.py"), "print('outside')\n");
        Directory.CreateDirectory(_dir.Combine("links"));
        for (var i = 1; i < links; i++) File.CreateSymbolicLink(_dir.Combine("links", $"l{i}"), i % 2 == 0 ? _dir.Combine("links", $"l{i + 1}") : $"l{i + 1}");
        File.CreateSymbolicLink(_dir.Combine("links", $"l{links}"), outside.Combine("serve.py"));
        var error = Assert.Single(Validate(Spec.Replace("entrypoint: serve.py", "entrypoint: links/l1", StringComparison.Ordinal)).Errors);
        At(error, code, "entrypoint", 3, 13);
        Assert.Equal(code == "IM1024"
            ? $"'links/l1' resolves to {outside.Combine("serve.py")}, outside the package"
            : $"'links/l1' is a link that leads to no file (a missing target, or more than 40 links) in {_dir.Path}", error.Message);
    }

    /// <summary>Found by the mutation run's tests: a link to nothing inside the package validated as the file it names.</summary>
    [Fact]
    public void A_link_to_nothing_is_missing_inside_the_package_and_escaping_outside_it()
    {
        File.CreateSymbolicLink(_dir.Combine("gone.py"), "nowhere.py");
        var error = Assert.Single(Validate(Spec.Replace("entrypoint: serve.py", "entrypoint: gone.py", StringComparison.Ordinal)).Errors);
        At(error, "IM1023", "entrypoint", 3, 13);
        Assert.Equal($"'gone.py' is a link that leads to no file (a missing target, or more than 40 links) in {_dir.Path}", error.Message);
        File.CreateSymbolicLink(_dir.Combine("far.py"), "/nonexistent/far.py");
        error = Assert.Single(Validate(Spec.Replace("entrypoint: serve.py", "entrypoint: far.py", StringComparison.Ordinal)).Errors);
        At(error, "IM1024", "entrypoint", 3, 13);
        Assert.Equal("'far.py' resolves to /nonexistent/far.py, outside the package", error.Message);
    }

    [Fact]
    public void A_link_through_a_directory_out_of_the_package_is_found_and_one_inside_is_followed()
    {
        using var outside = new TempDirectory("im-outside");
        File.WriteAllText(outside.Combine("serve.py"), "print('outside')\n");
        Directory.CreateSymbolicLink(_dir.Combine("out"), outside.Path);
        Directory.CreateSymbolicLink(_dir.Combine("here"), "hooks");
        var error = Assert.Single(Validate(Spec.Replace("entrypoint: serve.py", "entrypoint: out/serve.py", StringComparison.Ordinal)).Errors);
        At(error, "IM1024", "entrypoint", 3, 13);
        Assert.True(Validate(Spec.Replace("init: hooks/init.sh", "init: here/init.sh", StringComparison.Ordinal)).IsValid);
        // The package directory may itself be reached through a link.
        using var elsewhere = new TempDirectory("im-link");
        Directory.CreateSymbolicLink(elsewhere.Combine("pkg"), _dir.Path);
        File.WriteAllText(_dir.Combine("model.yaml"), Spec);
        Assert.True(ManifestReader.Validate(elsewhere.Combine("pkg")).IsValid);
    }
    private const string RefSchema = """
        input_schema:
          type: object
          definitions: {"a/b": {type: string}, "a b": {type: string}, "t~": {type: string}}
          allOf: [{type: object}]
          properties:
            x: {$ref: '#/definitions/a~1b'}
            y: {$ref: '#/definitions/a%20b'}
            z: {$ref: '#/definitions/t~0'}
            w: {$ref: '#/allOf/0'}
            v: {$id: '#named', type: string}
            u: {$ref: '#named'}
            r: {$ref: 'REF'}
        """;

    /// <summary>
    /// A $ref is a JSON Pointer (with ~0, ~1 and percent escapes, array indexes in range, digits only) or a plain-name
    /// $id inside the same schema; anything else is IM1041 at the $ref, with the fix for a pointer or for a file.
    /// </summary>
    [Theory]
    [InlineData("#", "")]
    [InlineData("#/allOf/1", "$ref '#/allOf/1' points at nothing in input_schema")]
    [InlineData("#/allOf/+0", "$ref '#/allOf/+0' points at nothing in input_schema")]
    [InlineData("#/definitions/a%2", "$ref '#/definitions/a%2' points at nothing in input_schema")]
    [InlineData("#/definitions/a/b", "$ref '#/definitions/a/b' points at nothing in input_schema")]
    [InlineData("#nope", "$ref '#nope' points at nothing in input_schema")]
    [InlineData("other.json#/x", "$ref 'other.json#/x' points outside the schema; only the whole input_schema may be a file")]
    public void A_ref_resolves_inside_its_schema_or_is_IM1041_at_the_ref(string target, string message)
    {
        var yaml = Spec.Replace(InlineInput, RefSchema.Replace("REF", target, StringComparison.Ordinal), StringComparison.Ordinal);
        var result = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(yaml));
        if (message.Length == 0)
        {
            Assert.True(result.IsValid, string.Join("\n", result.Errors));
            return;
        }

        var error = Assert.Single(result.Errors);
        At(error, "IM1041", "input_schema.properties.r.$ref", 22, 9);
        Assert.Equal(message, error.Message);
        Assert.Equal(target.StartsWith('#') ? "add the definition under `definitions:` or fix the pointer" : "copy the definition under `definitions:` and use '#/definitions/NAME'", error.Hint);
    }
    /// <summary>What a pattern names is counted from its text however it is cut short or written oddly.</summary>
    [Theory]
    [InlineData(@"[^]a]", 1)]
    [InlineData(@"[a\]b]", 1)]
    [InlineData(@"[abc", 1)]
    [InlineData(@"\u12", 1)]
    [InlineData(@"\x4", 1)]
    [InlineData(@"\cA\cA", 1)]
    [InlineData(@"\", 1)]
    [InlineData(@"a{", 2)]
    [InlineData(@"x{,}", 1)]
    [InlineData(@"x{}", 3)]
    [InlineData(@"x{2,5}y{10}", 2)]
    [InlineData(@"\p{L", 3)]
    [InlineData(@"\p{L}\P{L}\p{L}", 2)]
    [InlineData(@"^(a|b)*?$", 2)]
    [InlineData(@"a\u12", 2)]
    [InlineData(@"[", 1)]
    [InlineData(@"[^", 1)]
    [InlineData(@"a[b]", 2)]
    [InlineData(@"a\p{L}b\p{L}", 3)]
    public void Distinct_reads_odd_and_unfinished_patterns(string pattern, int distinct) =>
        Assert.Equal(distinct, SchemaPatterns.Distinct(pattern));

    /// <summary>
    /// The construct a linear-time matcher cannot run is named where it is, read past escapes and classes (a class may
    /// hold "(?=" as characters, start with "]", or subtract another class); a named group is not a balancing one.
    /// </summary>
    [Theory]
    [InlineData(@"(?<n>a)\k<n>", @"a backreference '\k' at character 8")]
    [InlineData(@"(a)\1", @"a backreference '\1' at character 4")]
    [InlineData(@"[(?=]x(?=y)", "a lookahead '(?=' at character 7")]
    [InlineData(@"[]](?=x)", "a lookahead '(?=' at character 4")]
    [InlineData(@"[^]](?=x)", "a lookahead '(?=' at character 5")]
    [InlineData(@"[a-z-[b]](?=x)", "a lookahead '(?=' at character 10")]
    [InlineData(@"[\]](?=x)", "a lookahead '(?=' at character 5")]
    [InlineData(@"(?<n>x)(?=y)", "a lookahead '(?=' at character 8")]
    [InlineData(@"(?<=a)b", "a lookbehind '(?<=' at character 1")]
    [InlineData(@"\G", @"the anchor '\G' at character 1")]
    [InlineData(@"(?<b>x)(?<a-b>y)", "a balancing group '(?<a-b>' at character 8")]
    [InlineData(@"(?'b'x)(?'a-b'y)", "a balancing group '(?<a-b>' at character 8")]
    public void A_construct_that_needs_backtracking_is_named_where_it_is(string pattern, string named) =>
        Assert.StartsWith("the pattern cannot be matched in linear time: " + named, SchemaPatterns.Problem(pattern), StringComparison.Ordinal);

    /// <summary>
    /// The fan-out bound follows every way a schema reaches deeper into an input: a definition that doubles at each of 30
    /// levels at one place is refused wherever the input reaches it (a property, a pattern, other properties, array items
    /// as one schema or a tuple, additional items, contains, property names), at that place's depth; 10 levels are taken.
    /// </summary>
    [Theory]
    [InlineData("properties: {a: REF}", 1)]
    [InlineData("patternProperties: {'^x': REF}", 1)]
    [InlineData("additionalProperties: REF", 1)]
    [InlineData("properties: {list: {type: array, items: REF}}", 2)]
    [InlineData("properties: {list: {type: array, items: [REF]}}", 2)]
    [InlineData("properties: {list: {type: array, items: [{type: string}], additionalItems: REF}}", 2)]
    [InlineData("properties: {list: {type: array, contains: REF}}", 2)]
    [InlineData("propertyNames: REF", 1)]
    public void Work_that_multiplies_is_found_through_every_way_into_an_input(string reach, int depth)
    {
        foreach (var (levels, accepted) in new[] { (10, true), (30, false) })
        {
            var definitions = new StringBuilder();
            for (var i = 0; i < levels; i++) definitions.Append(CultureInfo.InvariantCulture, $"    d{i}: {{allOf: [{{$ref: '#/definitions/d{i + 1}'}}, {{$ref: '#/definitions/d{i + 1}'}}]}}\n");
            definitions.Append(CultureInfo.InvariantCulture, $"    d{levels}: {{type: string}}\n");
            var yaml = Spec.Replace("input_schema:\n  type: object\n  properties:\n    text:\n      type: string\n  required: [text]\n",
                $"input_schema:\n  type: object\n  {reach.Replace("REF", "{$ref: '#/definitions/d0'}", StringComparison.Ordinal)}\n  definitions:\n{definitions}", StringComparison.Ordinal);
            var result = Validate(yaml);
            if (accepted)
            {
                Assert.True(result.IsValid, $"{levels} levels: " + string.Join("\n", result.Errors));
                continue;
            }

            var error = Assert.Single(result.Errors);
            Assert.Equal("IM1046", error.Code);
            Assert.StartsWith($"input_schema evaluates more than 10,000 subschemas at one place of an input (at depth {depth}):", error.Message, StringComparison.Ordinal);
        }
    }

    private const string InlineInputSchema = "input_schema:\n  type: object\n  properties:\n    text:\n      type: string\n  required: [text]\n";

    private ManifestValidation WithInput(string schemaBody) =>
        Validate(Spec.Replace(InlineInputSchema, "input_schema:\n  type: object\n" + schemaBody, StringComparison.Ordinal));

    /// <summary>
    /// A property may be called default, enum, const or examples: its schema is a schema like any other. It was read as
    /// data: its patterns and $refs went unchecked, and a schema under it that the fan-out check reached was an internal
    /// error (exit 70; a 500 at a registry).
    /// </summary>
    [Theory]
    [InlineData("default")]
    [InlineData("enum")]
    [InlineData("const")]
    [InlineData("examples")]
    public void A_property_named_like_a_data_keyword_is_a_schema_like_any_other(string name)
    {
        Assert.True(WithInput($"  properties:\n    {name}: {{type: string, pattern: '^a+$'}}\n").IsValid);

        var error = Assert.Single(WithInput($"  properties:\n    {name}: {{type: string, pattern: '(a)\\1'}}\n").Errors);
        Assert.Equal(("IM1045", $"input_schema.properties.{name}.pattern"), (error.Code, error.Path));

        error = Assert.Single(WithInput($"  properties:\n    {name}: {{$ref: '#/definitions/missing'}}\n").Errors);
        Assert.Equal(("IM1041", $"input_schema.properties.{name}.$ref", "$ref '#/definitions/missing' points at nothing in input_schema"), (error.Code, error.Path, error.Message));

        // Reached by the fan-out check: refused when it multiplies, taken when it does not, never an internal error.
        var doubling = new StringBuilder();
        for (var i = 0; i < 30; i++) doubling.Append(CultureInfo.InvariantCulture, $"    d{i}: {{allOf: [{{$ref: '#/definitions/d{i + 1}'}}, {{$ref: '#/definitions/d{i + 1}'}}]}}\n");
        doubling.Append("    d30: {type: string}\n");
        error = Assert.Single(WithInput($"  properties:\n    {name}: {{allOf: [{{$ref: '#/definitions/d0'}}]}}\n  definitions:\n{doubling}").Errors);
        Assert.Equal("IM1046", error.Code);
        Assert.True(WithInput($"  properties:\n    {name}: {{allOf: [{{$ref: '#/definitions/{name}'}}, {{$ref: '#/definitions/{name}'}}]}}\n  definitions:\n    {name}: {{type: string}}\n").IsValid);
        // A pattern property and a definition may be called so too.
        error = Assert.Single(WithInput($"  patternProperties:\n    '^x': {{properties: {{{name}: {{pattern: '(?=a)'}}}}}}\n").Errors);
        Assert.Equal(("IM1045", $"input_schema.patternProperties.^x.properties.{name}.pattern"), (error.Code, error.Path));
    }

    /// <summary>Every draft-07 keyword, as a name.</summary>
    internal static readonly string[] Draft07Keywords = ["$schema", "$id", "$ref", "$comment", "title", "description", "default", "readOnly", "writeOnly", "examples", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern", "additionalItems", "items", "maxItems", "minItems", "uniqueItems", "contains", "maxProperties", "minProperties", "required", "additionalProperties", "definitions", "properties", "patternProperties", "dependencies", "propertyNames", "const", "enum", "type", "format", "contentMediaType", "contentEncoding", "if", "then", "else", "allOf", "anyOf", "oneOf", "not"];

    /// <summary>
    /// A name is a name, whatever keyword it spells: every draft-07 keyword as a required property of input_schema, as a
    /// definition reached by $ref, and as a pattern property, validates (a property named default was an internal error).
    /// </summary>
    [Fact]
    public void Every_keyword_may_name_a_property_and_a_definition()
    {
        var properties = string.Concat(Draft07Keywords.Select(k => $"    '{k}': {{$ref: '#/definitions/{k.Replace("$", "%24", StringComparison.Ordinal)}'}}\n"));
        var definitions = string.Concat(Draft07Keywords.Select(k => $"    '{k}': {{type: string, minLength: 1}}\n"));
        // Patterns are bounded (64 in a schema): the keywords whose name is data or a map of names, as pattern properties.
        var patterned = string.Concat(new[] { "default", "enum", "const", "examples", "properties", "definitions", "patternProperties", "dependencies" }
            .Select(k => $"    '^{k}$': {{type: string}}\n"));
        var result = WithInput($"  properties:\n{properties}  required: [{string.Join(", ", Draft07Keywords.Select(k => $"'{k}'"))}]\n  definitions:\n{definitions}  patternProperties:\n{patterned}");
        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        var document = result.Manifest!.InputSchema.Document;
        Assert.Equal(Draft07Keywords.Length, document["properties"]!.AsObject().Count);
    }

    /// <summary>The values of enum, const, examples and default are data: what looks like a $ref or a pattern there is not checked as one.</summary>
    [Theory]
    [InlineData("enum: [{$ref: '#/nowhere', pattern: '(a)\\1'}]")]
    [InlineData("const: {$ref: '#/nowhere', pattern: '(a)\\1'}")]
    [InlineData("examples: [{$ref: '#/nowhere', pattern: '(a)\\1'}]")]
    [InlineData("default: {$ref: '#/nowhere', pattern: '(a)\\1'}")]
    public void What_a_data_keyword_holds_is_data(string keyword) =>
        Assert.True(WithInput($"  properties:\n    meta: {{type: object, {keyword}}}\n").IsValid);

    /// <summary>
    /// A $ref must point at a schema (an object read as one, or true/false). Into data (a default's value), it held an
    /// internal error in the fan-out check; at a string, a number or a list, it is no schema at all.
    /// </summary>
    [Theory]
    [InlineData("'#/properties/b/default'", "data (a value of enum, const, examples or default)")]
    [InlineData("'#/properties/b/enum/0'", "data (a value of enum, const, examples or default)")]
    [InlineData("'#/properties/b/type'", "a string")]
    [InlineData("'#/properties/b/minProperties'", "a number")]
    [InlineData("'#/properties/b/required'", "a list")]
    [InlineData("'#/properties/b/additionalProperties'", null)]
    [InlineData("'#/properties/b'", null)]
    public void A_ref_points_at_a_schema(string target, string? what)
    {
        var result = WithInput($"  properties:\n    a: {{$ref: {target}}}\n    b: {{type: object, minProperties: 1, required: [x], additionalProperties: false, default: {{type: string}}, enum: [{{x: 1}}]}}\n");
        if (what is null)
        {
            Assert.True(result.IsValid, string.Join("\n", result.Errors));
            return;
        }

        var error = Assert.Single(result.Errors);
        Assert.Equal(("IM1041", "input_schema.properties.a.$ref", $"$ref {target.Trim('\'')} points at {what}, not at a schema".Replace("$ref #", "$ref '#", StringComparison.Ordinal).Replace(" points", "' points", StringComparison.Ordinal)),
            (error.Code, error.Path, error.Message));
        Assert.Equal("point at a schema, such as a definition: '#/definitions/NAME'", error.Hint);
    }

    /// <summary>A schema file is read as UTF-8 text, strictly, and must be a file of the package: a link out of it is IM1024.</summary>
    [Fact]
    public void A_schema_file_is_strict_utf8_inside_the_package()
    {
        var withFile = Spec.Replace(InlineInputSchema, "input_schema: {$ref: schemas/odd.json}\n", StringComparison.Ordinal);
        File.WriteAllBytes(_dir.Combine("schemas", "odd.json"), [(byte)'{', 0xC3, 0x28, (byte)'}']);
        var error = Assert.Single(Validate(withFile).Errors);
        Assert.Equal(("IM1043", "schemas/odd.json", "input_schema.$ref"), (error.Code, error.File, error.Path));
        Assert.StartsWith("schemas/odd.json is not a readable JSON/YAML schema: ", error.Message, StringComparison.Ordinal);

        using var outside = new TempDirectory("im-outside-schema");
        File.WriteAllText(outside.Combine("in.json"), "{\"type\": \"object\"}");
        File.Delete(_dir.Combine("schemas", "odd.json"));
        File.CreateSymbolicLink(_dir.Combine("schemas", "odd.json"), outside.Combine("in.json"));
        error = Assert.Single(Validate(withFile).Errors);
        Assert.Equal(("IM1024", "input_schema.$ref", $"'schemas/odd.json' resolves to {outside.Combine("in.json")}, outside the package"), (error.Code, error.Path, error.Message));
        At(error, "IM1024", "input_schema.$ref", 11, 22);
    }

    /// <summary>A meta-schema finding other than a type's gives the meta-schema's own words; a long pattern is quoted by its first 80 characters.</summary>
    [Fact]
    public void Schema_findings_say_what_is_wrong_in_few_words()
    {
        var error = Assert.Single(WithInput("  properties:\n    text: {type: string, minLength: -1}\n").Errors);
        Assert.Equal(("IM1040", "input_schema.properties.text.minLength"), (error.Code, error.Path));
        Assert.StartsWith("input_schema is not a valid draft-07 schema at /properties/text/minLength: ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("'type' must be one of", error.Message, StringComparison.Ordinal);

        var pattern = new string('a', 90) + "(?=b)";
        error = Assert.Single(WithInput($"  properties:\n    text: {{type: string, pattern: '{pattern}'}}\n").Errors);
        Assert.StartsWith($"input_schema: '{new string('a', 80)}…': the pattern cannot be matched in linear time: a lookahead '(?=' at character 91", error.Message, StringComparison.Ordinal);
        error = Assert.Single(WithInput($"  properties:\n    text: {{type: string, pattern: '{new string('a', 75)}(?=b)'}}\n").Errors);
        Assert.StartsWith($"input_schema: '{new string('a', 75)}(?=b)': ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_pattern_is_at_most_1000_characters_and_64_distinct_ones()
    {
        Assert.Null(SchemaPatterns.Problem(new string('a', SchemaPatterns.MaxLength)));
        Assert.Equal("the pattern is 1001 characters long; at most 1000 are accepted", SchemaPatterns.Problem(new string('a', SchemaPatterns.MaxLength + 1)));
        var sixtyFour = string.Concat(Enumerable.Range(0, 64).Select(i => (char)(0x4E00 + i)));
        Assert.Null(SchemaPatterns.Problem(sixtyFour));
        Assert.StartsWith("the pattern names 65 distinct characters", SchemaPatterns.Problem(sixtyFour + "\u9FA0"), StringComparison.Ordinal);
    }

    [Fact]
    public void A_manifest_with_a_byte_order_mark_or_a_complex_key_is_read()
    {
        Assert.True(ManifestReader.ValidateContent([0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(Spec)]).IsValid);
        var error = Assert.Single(ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(Spec + "? [a, b]\n: 1\n")).Errors);
        At(error, "IM1011", "<complex key>", 25, 3);
        Assert.Equal("unknown field '<complex key>'", error.Message);
    }
    [Fact]
    public void A_resolved_manifest_says_each_field_in_the_units_it_is_read_back_in()
    {
        var text = Spec.Replace("version: 0.4.2", "version: 1.0.0-rc.1+build.7", StringComparison.Ordinal).Replace("memory: 4Gi", "memory: 1G", StringComparison.Ordinal) + "timeout: 0.25\n";
        var m = Assert.IsType<ModelManifest>(ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(text)).Manifest);
        Assert.Equal("summarizer-v1:1.0.0-rc.1_build.7", m.ImageTag);
        var json = m.ToJson();
        Assert.Equal("""{"cpu":"2000m","memory":"1000000000","gpu":0}""", json["resources"]!.ToJsonString());
        Assert.Equal("250ms", (string?)json["timeout"]);
        Assert.Equal("""{"init":"hooks/init.sh","healthcheck":"hooks/health.sh"}""", json["hooks"]!.ToJsonString());
        Assert.Equal(["name", "version", "entrypoint", "runtime", "protocol", "port", "resources", "input_schema", "output_schema", "timeout", "hooks", "manifestDigest"], json.Select(p => p.Key));
        Assert.Equal(m.ManifestDigest, ModelManifest.FromJson(json).ManifestDigest);
        Assert.Equal("grpc", (string?)(m with { Protocol = ModelProtocol.Grpc }).ToJson()["protocol"]);
        Assert.Equal(["64Mi", "1Ki", "3Ei", "1025"], new[] { 64L << 20, 1024, 3L << 60, 1025 }.Select(Quantity.FormatBytes));

        json.Remove("manifestDigest");
        Assert.Equal("the manifest has no manifestDigest", Assert.Throws<FormatException>(() => ModelManifest.FromJson(json)).Message);
        json["manifestDigest"] = "sha256:00";
        json["port"] = 0;
        Assert.StartsWith("invalid manifest: manifest.json:", Assert.Throws<FormatException>(() => ModelManifest.FromJson(json)).Message, StringComparison.Ordinal);
    }
    /// <summary>The spec's manifest with <paramref name="count"/> unknown top-level keys after its name (lines 2 to count+1).</summary>
    private static string WithUnknownKeys(int count) =>
        Spec.Replace("name: summarizer-v1\n", "name: summarizer-v1\n" + string.Concat(Enumerable.Range(0, count).Select(i => $"extra{i}: 1\n")), StringComparison.Ordinal);

    /// <summary>
    /// One package lists at most 100 findings; past that they are counted, and one IM1014, last, says how many more there
    /// are. At 100 nothing is counted; at 101 the last is.
    /// </summary>
    [Theory]
    [InlineData(99)]
    [InlineData(100)]
    [InlineData(101)]
    [InlineData(250)]
    public void A_package_lists_100_findings_and_counts_the_rest(int unknown)
    {
        var result = Validate(WithUnknownKeys(unknown));
        var errors = result.Errors.ToList();
        Assert.Null(result.Manifest);
        Assert.Equal(unknown, result.ErrorCount);
        Assert.Equal(0, result.WarningCount);
        Assert.Equal(Math.Max(0, unknown - 100), result.UnlistedErrors);
        var listed = errors.Where(e => e.Code == "IM1011").ToList();
        Assert.Equal(Math.Min(unknown, 100), listed.Count);
        At(listed[^1], "IM1011", $"extra{listed.Count - 1}", listed.Count + 1, 1);
        var invalid = Assert.Throws<ManifestException>(() => result.EnsureValid());
        if (unknown <= 100)
        {
            Assert.Equal(unknown, errors.Count);
            Assert.DoesNotContain(result.Diagnostics, d => d.Code == "IM1014");
            Assert.StartsWith($"the package at {_dir.Path} has {unknown} errors (model.yaml: {unknown} errors):\n", invalid.Message, StringComparison.Ordinal);
            return;
        }

        Assert.Equal(101, errors.Count);
        var more = errors[^1];
        Assert.Equal(("IM1014", DiagnosticSeverity.Error, "", "model.yaml", 0, 0), (more.Code, more.Severity, more.Path, more.File, more.Line, more.Column));
        var rest = unknown - 100;
        Assert.Equal($"{rest} more finding{(rest == 1 ? "" : "s")} than the 100 listed ({rest} error{(rest == 1 ? "" : "s")}, 0 warnings): InfraMind lists at most 100 for one package", more.Message);
        Assert.StartsWith("fix the findings listed and validate again", more.Hint, StringComparison.Ordinal);
        Assert.StartsWith($"the package at {_dir.Path} has {unknown} errors (model.yaml: 100 errors; {rest} more not listed):\n", invalid.Message, StringComparison.Ordinal);
        Assert.EndsWith("  " + more, invalid.Message, StringComparison.Ordinal);
    }

    /// <summary>The rest may be warnings only: then IM1014 is a warning, and the counts say which are which.</summary>
    [Fact]
    public void Findings_past_the_list_that_are_warnings_are_counted_as_warnings()
    {
        File.WriteAllText(_dir.Combine("Dockerfile"), "FROM python:3.10-slim\nEXPOSE 8000\nCMD [\"python3\", \"other.py\"]\n");
        var result = Validate(WithUnknownKeys(100));
        Assert.Equal((100, 2, 0, 2), (result.ErrorCount, result.WarningCount, result.UnlistedErrors, result.UnlistedWarnings));
        var more = Assert.Single(result.Warnings);
        Assert.Equal(("IM1014", "2 more findings than the 100 listed (0 errors, 2 warnings): InfraMind lists at most 100 for one package"), (more.Code, more.Message));
        Assert.DoesNotContain(result.Errors, e => e.Code == "IM1014");
        // Listed last, after every file's findings, although it has no line.
        Assert.Equal("IM1014", result.Diagnostics[^1].Code);
    }

    /// <summary>
    /// A schema's own findings past the list still count as findings: the schema is then not compiled, as when they are
    /// listed (the reader compares the count of findings before and after each schema).
    /// </summary>
    [Fact]
    public void A_schema_whose_findings_are_not_listed_is_still_refused()
    {
        // Invalid draft-07 (IM1040) and a $ref to itself, whose cycle is looked for only in a schema with no finding yet.
        var result = Validate(WithUnknownKeys(100).Replace("      type: string\n  required",
            "      type: strng\n  definitions: {a: {$ref: '#/definitions/a'}}\n  $ref: '#/definitions/a'\n  required", StringComparison.Ordinal));
        Assert.Null(result.Manifest);
        Assert.Equal((101, 1), (result.ErrorCount, result.UnlistedErrors));
        Assert.All(result.Errors.Take(100), e => Assert.Equal("IM1011", e.Code));
        Assert.Equal("IM1014", result.Errors.Last().Code);
    }

    /// <summary>
    /// What a stranger's 1 MiB of unknown keys costs: about 100,000 findings were 100,000 errors in memory and a 19 MB
    /// message. Now 101 are kept, every one is counted, and the refusal's message stays small.
    /// </summary>
    [Fact]
    public void A_megabyte_of_unknown_keys_makes_a_short_refusal()
    {
        var text = new StringBuilder("name: m\nversion: 1.0.0\n");
        var keys = 0;
        while (text.Length + 16 < ManifestReader.MaxManifestBytes) text.Append(CultureInfo.InvariantCulture, $"k{keys++}: 1\n");
        var result = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(text.ToString()));
        Assert.Equal(101, result.Diagnostics.Count);
        Assert.True(keys > 90_000, $"{keys} keys");
        // Every unknown key and the six required fields it hides.
        Assert.Equal(keys + 6, result.ErrorCount);
        var invalid = Assert.Throws<ManifestException>(() => result.EnsureValid());
        Assert.InRange(invalid.Message.Length, 1, 64 * 1024);
        Assert.Contains($"has {keys + 6:N0} errors (model.yaml: 100 errors; {keys + 6 - 100:N0} more not listed)", invalid.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A link to a sibling directory whose name starts with the package's (/tmp/pkg and /tmp/pkg-evil) leads out of the
    /// package: "inside" is judged by whole path segments, not by a prefix of characters.
    /// </summary>
    [Fact]
    public void A_link_to_a_sibling_whose_name_extends_the_packages_escapes()
    {
        var sibling = _dir.Path.TrimEnd('/') + "-evil";
        Directory.CreateDirectory(sibling);
        try
        {
            File.WriteAllText(Path.Combine(sibling, "serve.py"), "print('not the package')\n");
            File.CreateSymbolicLink(_dir.Combine("next.py"), Path.Combine(sibling, "serve.py"));
            var error = Assert.Single(Validate(Spec.Replace("entrypoint: serve.py", "entrypoint: next.py", StringComparison.Ordinal)).Errors);
            At(error, "IM1024", "entrypoint", 3, 13);
            Assert.Equal($"'next.py' resolves to {Path.Combine(sibling, "serve.py")}, outside the package", error.Message);
        }
        finally
        {
            Directory.Delete(sibling, recursive: true);
        }
    }

    /// <summary>YAML 1.2's core schema: a boolean is true/false in three spellings each; anything else (quoted, yes, 1) is not one.</summary>
    [Theory]
    [InlineData("true", true)]
    [InlineData("True", true)]
    [InlineData("TRUE", true)]
    [InlineData("false", false)]
    [InlineData("False", false)]
    [InlineData("FALSE", false)]
    public void Deterministic_takes_the_three_spellings_of_each_boolean(string text, bool value) =>
        Assert.Equal(value, Assert.IsType<ModelManifest>(Validate(Spec + $"deterministic: {text}\n").Manifest).Deterministic);

    [Theory]
    [InlineData("'true'", "string 'true'")]
    [InlineData("yes", "string 'yes'")]
    [InlineData("tRUE", "string 'tRUE'")]
    [InlineData("1", "number '1'")]
    [InlineData("[true]", "a list")]
    public void Deterministic_is_a_boolean_and_nothing_else(string text, string found)
    {
        var error = Assert.Single(Validate(Spec + $"deterministic: {text}\n").Errors);
        At(error, "IM1012", "deterministic", 25, 16);
        Assert.Equal($"'deterministic' must be true or false, found {found}", error.Message);
        Assert.Equal("write `deterministic: true` when the same input always gets the same answer (the gateway then spot-checks nodes against each other), or leave it out", error.Hint);
    }

    /// <summary>YAML 1.2's null: empty, ~, and null in three spellings; a field given as null is given nothing, and the message says so.</summary>
    [Theory]
    [InlineData("null", "nothing 'null'")]
    [InlineData("Null", "nothing 'Null'")]
    [InlineData("NULL", "nothing 'NULL'")]
    [InlineData("~", "nothing '~'")]
    [InlineData("nULL", null)]
    [InlineData("true", null)]
    public void A_null_port_is_given_nothing(string text, string? found)
    {
        var error = Assert.Single(Validate(Spec.Replace("port: 9000", $"port: {text}", StringComparison.Ordinal)).Errors);
        At(error, "IM1012", "port", 6, 7);
        Assert.Equal(found is null
            ? $"port must be an integer, found {(text == "true" ? "boolean" : "string")} '{text}'"
            : $"'port' must be an integer, found {found}", error.Message);
    }

    /// <summary>An alias stands for its anchored scalar: both schemas say string with one anchor.</summary>
    [Fact]
    public void A_scalar_alias_reads_as_its_anchored_value()
    {
        var text = Spec.Replace("    text:\n      type: string", "    text:\n      type: &t string", StringComparison.Ordinal)
            .Replace("    summary:\n      type: string", "    summary:\n      type: *t", StringComparison.Ordinal);
        Assert.Contains("*t", text, StringComparison.Ordinal);
        var manifest = Assert.IsType<ModelManifest>(Validate(text).Manifest);
        Assert.Equal("string", manifest.OutputSchema.Document["properties"]!["summary"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public void A_NUL_as_the_first_byte_is_found_at_line_1_column_1()
    {
        var error = Assert.Single(Validate("\0name: x\n").Errors);
        At(error, "IM1003", "", 1, 1);
        Assert.Equal(("model.yaml is not UTF-8 text (it contains NUL bytes)", "model.yaml must be a UTF-8 YAML text file"), (error.Message, error.Hint));
    }

    /// <summary>Each required field missing says what it holds, with an example.</summary>
    [Theory]
    [InlineData("name", "a lowercase DNS label such as summarizer-v1")]
    [InlineData("version", "a SemVer version such as 0.1.0")]
    [InlineData("entrypoint", "the script that serves the model, such as serve.py")]
    [InlineData("runtime", "such as python3.10, node20, dotnet8 or custom")]
    [InlineData("protocol", "rest or grpc")]
    [InlineData("port", "the port the container listens on, such as 9000")]
    public void A_missing_field_says_what_it_holds(string field, string explained)
    {
        var text = string.Join('\n', Spec.Split('\n').Where(l => !l.StartsWith(field + ":", StringComparison.Ordinal)));
        var error = Assert.Single(Validate(text).Errors);
        At(error, "IM1010", field, 1, 1);
        Assert.Equal(($"required field '{field}' is missing", $"add `{field}: …` ({explained})"), (error.Message, error.Hint));
    }

    [Theory]
    [InlineData("input_schema", "a JSON Schema (draft-07) of the request body")]
    [InlineData("output_schema", "a JSON Schema (draft-07) of the response body")]
    public void A_missing_schema_says_which_body_it_describes(string field, string explained)
    {
        var result = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(
            "name: m\nversion: 1.0.0\nentrypoint: serve.py\nruntime: python3.11\nprotocol: rest\nport: 9000\n" +
            (field == "input_schema" ? "" : "input_schema: {type: object}\n") + (field == "output_schema" ? "" : "output_schema: {type: object}\n")));
        var error = Assert.Single(result.Errors);
        Assert.Equal(("IM1010", $"add `{field}: …` ({explained})"), (error.Code, error.Hint));
    }

    [Fact]
    public void A_name_over_63_characters_says_its_length_and_one_of_63_says_what_is_wrong()
    {
        var error = Assert.Single(Validate(Spec.Replace("name: summarizer-v1", "name: " + new string('a', 64), StringComparison.Ordinal)).Errors);
        Assert.Equal(("name is 64 characters; the limit is 63", $"use lowercase letters, digits and '-', starting and ending with a letter or digit, e.g. '{new string('a', 63)}'"),
            (error.Message, error.Hint));
        var upper = "A" + new string('b', 62);
        error = Assert.Single(Validate(Spec.Replace("name: summarizer-v1", "name: " + upper, StringComparison.Ordinal)).Errors);
        Assert.Equal(($"name '{upper}' is not a lowercase DNS label", $"use lowercase letters, digits and '-', starting and ending with a letter or digit, e.g. '{upper.ToLowerInvariant()}'"),
            (error.Message, error.Hint));
    }

    [Theory]
    [InlineData("cpus", "did you mean 'cpu'?")]
    [InlineData("disk", "known resources: cpu, memory, gpu")]
    public void An_unknown_resource_is_named_with_the_nearest_known_one(string key, string hint)
    {
        var error = Assert.Single(Validate(Spec.Replace("  gpu: false", $"  gpu: false\n  {key}: 1", StringComparison.Ordinal)).Errors);
        At(error, "IM1011", $"resources.{key}", 11, 3);
        Assert.Equal(($"unknown resource '{key}'", hint), (error.Message, error.Hint));
    }

    /// <summary>The readiness timeout's bound, 10 minutes, in each unit and as a bare number of seconds.</summary>
    [Theory]
    [InlineData("600", true)]
    [InlineData("600.001", false)]
    [InlineData("600000ms", true)]
    [InlineData("600001ms", false)]
    [InlineData("600s", true)]
    [InlineData("601s", false)]
    [InlineData("10m", true)]
    [InlineData("10.01m", false)]
    [InlineData("1ms", true)]
    [InlineData("0ms", false)]
    [InlineData("0", false)]
    public void A_timeout_is_at_most_10_minutes_in_every_unit(string text, bool valid)
    {
        var result = Validate(Spec + $"timeout: {text}\n");
        if (valid)
        {
            Assert.True(result.IsValid, string.Join("\n", result.Errors));
            return;
        }

        var error = Assert.Single(result.Errors);
        At(error, "IM1033", "timeout", 25, 10);
        Assert.Equal($"timeout '{text}' is not a duration between 1ms and 10m", error.Message);
    }

    [Theory]
    [InlineData(1L << 60, "1Ei")]
    [InlineData(3L << 50, "3Pi")]
    [InlineData(1L << 40, "1Ti")]
    [InlineData(5L << 30, "5Gi")]
    [InlineData(1L << 20, "1Mi")]
    [InlineData(3L << 10, "3Ki")]
    [InlineData(1000L, "1000")]
    [InlineData((1L << 60) + 1024, "1125899906842625Ki")]
    public void Memory_is_written_back_in_its_largest_whole_unit(long bytes, string text) => Assert.Equal(text, Quantity.FormatBytes(bytes));

    /// <summary>Errors list by file in the order the files were first named (model.yaml before the schema file it names), then by line.</summary>
    [Fact]
    public void Errors_list_model_yaml_first_then_the_schema_file_it_names()
    {
        File.WriteAllText(_dir.Combine("schemas", "bad.json"), "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"strng\"}}}");
        var result = Validate(Spec.Replace("port: 9000", "port: 0", StringComparison.Ordinal)
            .Replace("input_schema:\n  type: object\n  properties:\n    text:\n      type: string\n  required: [text]\n", "input_schema: {$ref: schemas/bad.json}\n", StringComparison.Ordinal));
        Assert.Equal([("model.yaml", "IM1028"), ("schemas/bad.json", "IM1040")], result.Errors.Select(e => (e.File, e.Code)));
    }

    /// <summary>Only a path that does not exist is "missing" (exit 2 in `infra validate`); a package with findings, or none, is not.</summary>
    [Fact]
    public void Only_a_path_that_does_not_exist_is_missing()
    {
        Assert.False(Validate(Spec).PathMissing);
        Assert.False(Validate(Spec.Replace("port: 9000", "port: 0", StringComparison.Ordinal)).PathMissing);
        Assert.True(ManifestReader.Validate(_dir.Combine("nowhere")).PathMissing);
    }

    /// <summary>Manifest bytes without a package (a registry's entry) name the manifest, not "the package at …".</summary>
    [Fact]
    public void A_manifest_without_its_package_is_named_by_its_source()
    {
        var result = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(Spec.Replace("port: 9000", "port: 0", StringComparison.Ordinal)), "manifest.json");
        var invalid = Assert.Throws<ManifestException>(() => result.EnsureValid());
        Assert.StartsWith("manifest.json has 1 error (manifest.json: 1 error):\n  manifest.json:6:7: error IM1028", invalid.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The codes are stable (scripts match on them): each name's value, never renumbered. Tests that compare a finding's
    /// code with <c>ManifestCodes.X</c> pass whatever X holds, so the values are held here once.
    /// </summary>
    [Fact]
    public void Every_manifest_code_keeps_its_number_and_kind()
    {
        var codes = typeof(ManifestCodes).GetFields().ToDictionary(f => f.Name, f => (ErrorCode)f.GetValue(null)!);
        var expected = new Dictionary<string, string>
        {
            ["PathNotFound"] = "IM1000", ["ManifestMissing"] = "IM1001", ["FileTooLarge"] = "IM1002", ["NotText"] = "IM1003", ["EmptyFile"] = "IM1004",
            ["YamlSyntax"] = "IM1005", ["TabIndentation"] = "IM1006", ["DuplicateKey"] = "IM1007", ["NotAMapping"] = "IM1008", ["MultipleDocuments"] = "IM1009",
            ["MissingField"] = "IM1010", ["UnknownField"] = "IM1011", ["WrongType"] = "IM1012", ["ManifestNameNotRead"] = "IM1013", ["FindingsUnlisted"] = "IM1014", ["InvalidName"] = "IM1020",
            ["InvalidVersion"] = "IM1021", ["InvalidPath"] = "IM1022", ["FileNotInPackage"] = "IM1023", ["PathEscapes"] = "IM1024", ["UnknownHook"] = "IM1025",
            ["InvalidRuntime"] = "IM1026", ["InvalidProtocol"] = "IM1027", ["InvalidPort"] = "IM1028", ["InvalidCpu"] = "IM1030", ["InvalidMemory"] = "IM1031",
            ["InvalidGpu"] = "IM1032", ["InvalidTimeout"] = "IM1033", ["SchemaInvalid"] = "IM1040", ["SchemaRefUnresolved"] = "IM1041", ["SchemaNotObject"] = "IM1042",
            ["SchemaFileInvalid"] = "IM1043", ["SchemaDialect"] = "IM1044", ["SchemaPatternUnsafe"] = "IM1045", ["SchemaTooLarge"] = "IM1046",
            ["DockerfileMissing"] = "IM1050", ["ExposeMismatch"] = "IM1051", ["CommandMismatch"] = "IM1052", ["DockerfileInstructionUnknown"] = "IM1053",
            ["DockerfileNoFrom"] = "IM1054", ["PackageInvalid"] = "IM1070",
        };
        Assert.Equal(expected.OrderBy(e => e.Key, StringComparer.Ordinal), codes.Select(c => KeyValuePair.Create(c.Key, c.Value.Value)).OrderBy(e => e.Key, StringComparer.Ordinal));
        // The value rules also checked on the command line are usage errors (exit 2); every other finding fails a check.
        Assert.Equal(["InvalidCpu", "InvalidMemory", "InvalidName", "InvalidTimeout", "PathNotFound"], codes.Where(c => c.Value.Kind == FailureKind.Usage).Select(c => c.Key).Order(StringComparer.Ordinal));
        Assert.All(codes.Values.Where(c => c.Kind != FailureKind.Usage), c => Assert.Equal(FailureKind.CheckFailed, c.Kind));
    }
    [Theory]
    [InlineData("1k", 1000L)]
    [InlineData("1M", 1000_000L)]
    [InlineData("1T", 1000_000_000_000L)]
    [InlineData("1P", 1000_000_000_000_000L)]
    [InlineData("1E", 1000_000_000_000_000_000L)]
    [InlineData("1Ki", 1L << 10)]
    [InlineData("1Mi", 1L << 20)]
    [InlineData("1Ti", 1L << 40)]
    [InlineData("1Pi", 1L << 50)]
    [InlineData("1Ei", 1L << 60)]
    [InlineData("7.5Ei", 15L << 59)]
    public void Every_suffix_is_its_power_of_ten_or_of_two(string text, long bytes)
    {
        Assert.True(Quantity.TryParseBytes(text, out var parsed, out _));
        Assert.Equal(bytes, parsed);
    }

    /// <summary>Keys nest too: a complex key's own nesting counts toward the 64 levels (else keys could nest without bound).</summary>
    [Theory]
    [InlineData(64, "IM1011")]
    [InlineData(65, "IM1005")]
    public void A_complex_key_nests_within_the_same_64_levels(int lists, string code)
    {
        var error = Assert.Single(ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(Spec + "? " + new string('[', lists) + new string(']', lists) + "\n: 1\n")).Errors);
        Assert.Equal(code, error.Code);
    }
}
