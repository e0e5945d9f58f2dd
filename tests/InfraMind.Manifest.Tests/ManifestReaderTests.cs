using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using InfraMind.Testing;

namespace InfraMind.Manifest.Tests;

public sealed class ManifestReaderTests : IDisposable
{
    private static readonly string Corpus = Path.Combine(AppContext.BaseDirectory, "Corpus");
    private readonly TempDirectory _dir = new("im-manifest");

    public ManifestReaderTests() => TempDirectory.Copy(Path.Combine(Corpus, "package"), _dir.Path);

    public void Dispose() => _dir.Dispose();

    private static string Spec => File.ReadAllText(Path.Combine(Corpus, "valid", "spec-example.yaml"));

    private ManifestValidation Validate(string text)
    {
        File.WriteAllText(_dir.Combine("model.yaml"), text);
        return ManifestReader.Validate(_dir.Path);
    }

    [Fact]
    public void A_model_yaml_that_links_out_of_its_package_is_refused_unread_and_one_inside_it_is_read()
    {
        // Found by an audit: `infra validate` printed every line of the file behind the link as a finding.
        using var outside = new TempDirectory("im-outside");
        File.WriteAllText(outside.Combine("secret"), "root:*:20228:0:99999:7:::\n");
        File.Delete(_dir.Combine("model.yaml"));
        File.CreateSymbolicLink(_dir.Combine("model.yaml"), outside.Combine("secret"));
        foreach (var path in new[] { _dir.Path, _dir.Combine("model.yaml") })
        {
            var error = Assert.Single(ManifestReader.Validate(path).Errors);
            Assert.Equal(ManifestCodes.PathEscapes, error.Code);
            Assert.DoesNotContain("root:", error.Message, StringComparison.Ordinal);
        }

        File.Delete(_dir.Combine("model.yaml"));
        File.WriteAllText(_dir.Combine("spec.yaml"), Spec);
        File.CreateSymbolicLink(_dir.Combine("model.yaml"), "spec.yaml");
        Assert.Empty(ManifestReader.Validate(_dir.Path).Errors);
    }

    [Fact]
    public async Task A_model_yaml_or_schema_file_that_is_a_fifo_is_not_opened_and_validation_ends()
    {
        File.Delete(_dir.Combine("model.yaml"));
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [_dir.Combine("model.yaml")])) await mkfifo.WaitForExitAsync();
        var validation = Task.Run(() => ManifestReader.Validate(_dir.Path));
        Assert.True(await Task.WhenAny(validation, Task.Delay(TimeSpan.FromSeconds(30))) == validation, "validation blocked on the FIFO");
        Assert.NotEmpty((await validation).Errors);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public void An_empty_path_is_a_finding_not_an_exception(string path)
    {
        var error = Assert.Single(ManifestReader.Validate(path).Errors);
        Assert.Equal(ManifestCodes.PathNotFound, error.Code);
        Assert.Contains("the path is empty", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("+9000")]
    [InlineData("0o21450")]
    [InlineData("0x2328")]
    [InlineData("9000")]
    public void A_port_is_read_as_YAML_1_2_core_integers_are(string written)
    {
        var result = Validate(Spec.Replace("port: 9000", $"port: {written}", StringComparison.Ordinal));
        Assert.Equal(9000, Assert.IsType<ModelManifest>(result.Manifest).Port);
    }

    [Theory]
    [InlineData("9_000", "YAML 1.2 has no digit separators: write 9000")]
    [InlineData("0b10001100101000", "write the port number")]
    [InlineData("2:30:00", "write the port number")]
    [InlineData("0x", "write the port number")]
    [InlineData("0o", "write the port number")]
    [InlineData("0o9", "write the port number")]
    [InlineData("0o7777777777777777777777", "write the port number")]
    public void A_port_in_a_YAML_1_1_only_form_is_not_a_number(string written, string hint)
    {
        // YAML 1.1 readers take 9_000 (and 0b…, base 60) for numbers, YAML 1.2 readers for strings: model.yaml is read as 1.2.
        var result = Validate(Spec.Replace("port: 9000", $"port: {written}", StringComparison.Ordinal));
        var error = Assert.Single(result.Errors, e => e.Path == "port");
        Assert.Equal(ManifestCodes.WrongType, error.Code);
        Assert.Contains($"found string '{written}'", error.Message, StringComparison.Ordinal);
        Assert.Contains(hint, error.Hint, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"ninety\"", "write the port number, such as 9000")]
    [InlineData("\"9000\"", "remove the quotes")]
    public void A_quoted_port_is_told_to_lose_its_quotes_only_when_it_is_a_number(string written, string hint)
    {
        var result = Validate(Spec.Replace("port: 9000", $"port: {written}", StringComparison.Ordinal));
        var error = Assert.Single(result.Errors, e => e.Path == "port");
        Assert.Equal(ManifestCodes.WrongType, error.Code);
        Assert.Equal(hint, error.Hint);
    }

    [Theory]
    [InlineData("1", "SemVer needs MAJOR.MINOR.PATCH, e.g. '1.0.0' (quoted, so YAML reads it as text)")]
    [InlineData("1.2", "SemVer needs MAJOR.MINOR.PATCH, e.g. '1.2.0' (quoted, so YAML reads it as text)")]
    [InlineData("v1.2.3", "drop the 'v': '1.2.3'")]
    [InlineData("1.2.3.4", "use MAJOR.MINOR.PATCH with an optional -prerelease and +build, e.g. 0.4.2 or 1.0.0-rc.1")]
    [InlineData("01", "use MAJOR.MINOR.PATCH with an optional -prerelease and +build, e.g. 0.4.2 or 1.0.0-rc.1")]
    public void A_version_that_is_not_SemVer_gets_a_hint_that_is(string written, string hint)
    {
        var result = Validate(Spec.Replace("version: 0.4.2", $"version: {written}", StringComparison.Ordinal));
        var error = Assert.Single(result.Errors, e => e.Path == "version");
        Assert.Equal(ManifestCodes.InvalidVersion, error.Code);
        Assert.Equal(hint, error.Hint);
    }

    [Fact]
    public void A_schema_made_deep_by_a_YAML_alias_is_a_finding_not_a_crash()
    {
        // Found by an audit: an anchor 46 levels deep used 45 levels deep (each within YAML's 64) made a 91-level schema,
        // and the JSON writer's exception ended `infra validate` as an internal error (a 500 at a registry).
        var anchored = string.Concat(Enumerable.Repeat("{x: ", 46)) + "1" + new string('}', 46);
        var used = string.Concat(Enumerable.Repeat("{x: ", 45)) + "*deep" + new string('}', 45);
        var yaml = Spec.Replace("input_schema:\n  type: object\n", $"input_schema:\n  type: object\n  definitions: {{d: &deep {anchored}}}\n  additionalProperties: {used}\n", StringComparison.Ordinal);
        Assert.Contains("&deep", yaml, StringComparison.Ordinal);

        var result = Validate(yaml);

        var error = Assert.Single(result.Errors);
        Assert.Equal(ManifestCodes.SchemaTooLarge, error.Code);
        Assert.Equal("input_schema nests deeper than 64 levels once its YAML aliases are expanded (an alias stands for its whole anchored node)", error.Message);
    }

    /// <summary>
    /// Found by an audit: definitions that each apply the next one twice at the same place (no cycle) made every input
    /// check evaluate the last one 2^levels times: 2.6 KB of schema, ~100 minutes of a gateway's CPU per request. The
    /// same doubling through properties, one level of input each, is refused as well; reuse that does not multiply (a
    /// definition used from many properties, a recursive tree) is accepted.
    /// </summary>
    [Theory]
    [InlineData("same-place", 30, false)]
    [InlineData("same-place", 10, true)]
    [InlineData("through-properties", 30, false)]
    [InlineData("through-properties", 10, true)]
    public void A_schema_whose_refs_multiply_the_work_is_refused(string shape, int levels, bool accepted)
    {
        var definitions = new StringBuilder();
        for (var i = 0; i < levels; i++)
        {
            var next = $"{{$ref: '#/definitions/d{i + 1}'}}";
            definitions.Append(shape == "same-place"
                ? $"    d{i}: {{allOf: [{next}, {next}]}}\n"
                : $"    d{i}: {{properties: {{a: {{allOf: [{next}, {next}]}}}}}}\n");
        }

        definitions.Append($"    d{levels}: {{type: string}}\n");
        var yaml = Spec.Replace("input_schema:\n  type: object\n", $"input_schema:\n  type: object\n  allOf: [{{$ref: '#/definitions/d0'}}]\n  definitions:\n{definitions}", StringComparison.Ordinal);

        AcceptedOrTooLarge(yaml, accepted, "input_schema evaluates more than 10,000 subschemas at one place of an input (at depth ");
    }

    [Fact]
    public void Reuse_that_does_not_multiply_is_accepted()
    {
        // One definition used from 200 properties, and a recursive tree (children: items: $ref '#').
        var properties = string.Join(", ", Enumerable.Range(0, 200).Select(i => $"p{i}: {{$ref: '#/definitions/shared'}}"));
        var shared = Spec.Replace("input_schema:\n  type: object\n", "input_schema:\n  type: object\n" +
            $"  definitions: {{shared: {{type: object, properties: {{x: {{type: string}}, y: {{type: integer}}}}}}}}\n  patternProperties: {{'^p': {{type: object}}}}\n  additionalProperties: {{anyOf: [{{$ref: '#/definitions/shared'}}, {{type: string}}]}}\n" +
            $"  dependencies: {{}}\n  propertyNames: {{maxLength: 64}}\n  minProperties: 0\n  maxProperties: 1000\n  title: shared\n  description: 'shared {properties.Length}'\n", StringComparison.Ordinal);
        Assert.Empty(Validate(shared).Errors);
        var many = Spec.Replace("  properties:\n    text:\n      type: string\n", $"  definitions: {{shared: {{type: string, maxLength: 10}}}}\n  properties: {{text: {{type: string}}, {properties}}}\n", StringComparison.Ordinal);
        Assert.Contains("p199", many, StringComparison.Ordinal);
        Assert.Empty(Validate(many).Errors);
        var tree = Spec.Replace("  properties:\n    text:\n      type: string\n", "  properties:\n    text:\n      type: string\n    children: {type: array, items: {$ref: '#'}}\n", StringComparison.Ordinal);
        Assert.Contains("children", tree, StringComparison.Ordinal);
        Assert.Empty(Validate(tree).Errors);
    }

    [Theory]
    [InlineData(65, 1, false)]
    [InlineData(64, 1, true)]
    [InlineData(5, 60, false)]
    [InlineData(4, 60, true)]
    public void A_schemas_patterns_are_bounded_in_number_and_in_what_they_name(int patterns, int distinctEach, bool accepted)
    {
        // Each pattern: distinctEach distinct characters of its own (so they add up), as patternProperties keys.
        var keys = Enumerable.Range(0, patterns).Select(p => "'^" + new string([.. Enumerable.Range(0, distinctEach).Select(i => (char)(0x4E00 + p * 100 + i))]) + "$': {type: string}");
        var yaml = Spec.Replace("input_schema:\n  type: object\n", $"input_schema:\n  type: object\n  patternProperties: {{{string.Join(", ", keys)}}}\n", StringComparison.Ordinal);

        AcceptedOrTooLarge(yaml, accepted,
            $"input_schema holds {patterns} patterns naming {patterns * distinctEach} distinct characters and classes in all; at most 64 patterns naming 256 are accepted");
    }

    /// <summary>
    /// Validates <paramref name="yaml"/>: no error when <paramref name="accepted"/>; else exactly one, IM1046, whose
    /// message starts with <paramref name="refusal"/>.
    /// </summary>
    private void AcceptedOrTooLarge(string yaml, bool accepted, string refusal)
    {
        var result = Validate(yaml);
        if (accepted)
        {
            Assert.Empty(result.Errors);
            return;
        }

        var error = Assert.Single(result.Errors);
        Assert.Equal(ManifestCodes.SchemaTooLarge, error.Code);
        Assert.StartsWith(refusal, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Spec_example_parses_into_exact_values()
    {
        var result = Validate(Spec);
        var m = Assert.IsType<ModelManifest>(result.Manifest);
        Assert.Equal("summarizer-v1", m.Name);
        Assert.Equal("0.4.2", m.Version.ToString());
        Assert.Equal(ModelProtocol.Rest, m.Protocol);
        Assert.Equal(9000, m.Port);
        Assert.Equal(new ResourceRequest(2000, 4L * 1024 * 1024 * 1024, 0), m.Resources);
        Assert.Equal(new HookSet("hooks/init.sh", null, "hooks/health.sh"), m.Hooks);
        Assert.Equal(TimeSpan.FromSeconds(3), m.ReadinessTimeout);
        var expected = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Spec)));
        Assert.Equal(expected, m.ManifestDigest);
        Assert.Empty(result.Diagnostics);
    }

    [Fact]
    public void Schemas_validate_documents_with_json_pointer_errors()
    {
        var m = Validate(Spec).Manifest!;
        Assert.Empty(m.InputSchema.Validate(JsonNode.Parse("""{"text": "hello"}""")));
        var violations = m.InputSchema.Validate(JsonNode.Parse("""{"text": 5}"""));
        Assert.Contains(violations, v => v.Pointer == "/text");
        Assert.Contains(m.InputSchema.Validate(JsonNode.Parse("{}")), v => v.Pointer.Length == 0 && v.Message.Contains("text", StringComparison.Ordinal));
    }

    [Fact]
    public void File_schema_reference_is_inlined()
    {
        var text = Spec.Replace("input_schema:\n  type: object\n  properties:\n    text:\n      type: string\n  required: [text]", "input_schema: {$ref: schemas/in.json}", StringComparison.Ordinal);
        var m = Validate(text).Manifest!;
        Assert.Equal(1, m.InputSchema.Document["properties"]!["text"]!["minLength"]!.GetValue<long>());
        Assert.NotEmpty(m.InputSchema.Validate(JsonNode.Parse("""{"text": ""}""")));
    }

    [Fact]
    public void Resolved_manifest_json_round_trips_with_its_original_digest()
    {
        var m = Validate(Spec).Manifest!;
        var back = ModelManifest.FromJson(m.ToJson());
        Assert.Equal(m.ManifestDigest, back.ManifestDigest);
        Assert.Equal(m with { InputSchema = back.InputSchema, OutputSchema = back.OutputSchema }, back);
        Assert.Equal(m.InputSchema.Document.ToJsonString(), back.InputSchema.Document.ToJsonString());
    }

    [Fact]
    public void Content_without_a_package_keeps_every_rule_but_file_existence()
    {
        var ok = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(Spec));
        Assert.True(ok.IsValid, string.Join("\n", ok.Errors));
        var bad = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(Spec.Replace("entrypoint: serve.py", "entrypoint: ../x.py", StringComparison.Ordinal)));
        Assert.Equal(ManifestCodes.InvalidPath, Assert.Single(bad.Errors).Code);
        var fileRef = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(Spec.Replace("input_schema:\n  type: object\n  properties:\n    text:\n      type: string\n  required: [text]", "input_schema: {$ref: schemas/in.json}", StringComparison.Ordinal)));
        Assert.Equal(ManifestCodes.SchemaFileInvalid, Assert.Single(fileRef.Errors).Code);
        Assert.Throws<FormatException>(() => ModelManifest.FromJson(new JsonObject { ["manifestDigest"] = "sha256:00", ["name"] = "x" }));
    }

    /// <summary>A schema of exactly <paramref name="values"/> values (objects, arrays, scalars).</summary>
    private static JsonObject SchemaOf(int values)
    {
        // {type: object, properties: {text: {type: string}, …}, required: [text]} holds 7; each field {type: string} 2 more.
        var properties = new JsonObject { ["text"] = new JsonObject { ["type"] = "string" } };
        for (var i = 0; i < (values - 7) / 2; i++) properties[$"f{i}"] = new JsonObject { ["type"] = "string" };
        var schema = new JsonObject { ["type"] = "object" };
        if ((values - 7) % 2 == 1) schema["description"] = "odd";
        schema["properties"] = properties;
        schema["required"] = new JsonArray("text");
        return schema;
    }

    [Theory]
    [InlineData("""{"type":"object","definitions":{"a":{"$ref":"#/definitions/b"},"b":{"$ref":"#/definitions/a"}},"properties":{"x":{"$ref":"#/definitions/a"}}}""")]
    [InlineData("""{"type":"object","definitions":{"a":{"anyOf":[{"type":"string"},{"not":{"$ref":"#/definitions/a"}}]}},"properties":{"x":{"$ref":"#/definitions/a"}}}""")]
    [InlineData("""{"type":"object","allOf":[{"$ref":"#"}]}""")]
    public void A_ref_that_leads_back_to_itself_at_the_same_place_in_the_input_is_refused_in_model_yaml_and_in_a_published_manifest(string schema)
    {
        // Found by an audit: evaluating such a schema never ends; `infra test` died of a stack overflow, and so would a
        // gateway or node checking any input against it.
        const string Inline = "input_schema:\n  type: object\n  properties:\n    text:\n      type: string\n  required: [text]";
        var error = Assert.Single(Validate(Spec.Replace(Inline, "input_schema: " + schema, StringComparison.Ordinal)).Errors);
        Assert.Equal(ManifestCodes.SchemaRefUnresolved, error.Code);
        Assert.Contains("leads back to itself", error.Message, StringComparison.Ordinal);

        var published = Validate(Spec).Manifest!.ToJson();
        published["input_schema"] = JsonNode.Parse(schema);
        Assert.Contains("IM1041", Assert.Throws<FormatException>(() => ModelManifest.FromJson(published)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_schema_that_recurses_through_properties_or_items_is_a_tree_and_valid()
    {
        const string Inline = "input_schema:\n  type: object\n  properties:\n    text:\n      type: string\n  required: [text]";
        var tree = """{"type":"object","definitions":{"node":{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#/definitions/node"}},"next":{"anyOf":[{"type":"null"},{"$ref":"#/definitions/node"}]}}}},"properties":{"root":{"$ref":"#/definitions/node"}}}""";
        var result = Validate(Spec.Replace(Inline, "input_schema: " + tree, StringComparison.Ordinal));
        Assert.Empty(result.Errors);
        var input = JsonNode.Parse("""{"root":{"kids":[{"kids":[]},{"next":{"kids":[]}}]}}""");
        Assert.Empty(result.Manifest!.InputSchema.Validate(input));
    }

    [Fact]
    public void A_yaml_alias_bomb_in_a_schema_is_refused_by_its_size_without_being_expanded()
    {
        // Nine levels of nine aliases stand for 9^9 (387 million) strings in about a kilobyte: expanded, they took
        // gigabytes before the size bound could apply.
        var lines = new List<string> { "input_schema:", "  type: object", "  definitions:", "    l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]" };
        for (var i = 1; i <= 9; i++) lines.Add($"    l{i}: &l{i} [{string.Join(", ", Enumerable.Repeat($"*l{i - 1}", 9))}]");
        const string Inline = "input_schema:\n  type: object\n  properties:\n    text:\n      type: string\n  required: [text]";
        var result = Validate(Spec.Replace(Inline, string.Join("\n", lines), StringComparison.Ordinal));
        var error = Assert.Single(result.Errors);
        Assert.Equal(ManifestCodes.SchemaTooLarge, error.Code);
    }

    [Theory]
    [InlineData(ModelSchema.MaxValues, true)]
    [InlineData(ModelSchema.MaxValues + 1, false)]
    [InlineData(60_000, false)]
    public void A_schema_holds_at_most_4096_values_in_model_yaml_in_a_schema_file_and_in_a_published_manifest(int values, bool valid)
    {
        const string Inline = "input_schema:\n  type: object\n  properties:\n    text:\n      type: string\n  required: [text]";
        var schema = SchemaOf(values);
        Assert.Equal(values, ModelSchema.CountValues(schema, int.MaxValue));
        // JSON is YAML's flow style: the schema inline in model.yaml.
        var result = Validate(Spec.Replace(Inline, "input_schema: " + schema.ToJsonString(), StringComparison.Ordinal));
        if (valid)
        {
            var manifest = Assert.IsType<ModelManifest>(result.Manifest);
            Assert.Equal(values, ModelSchema.CountValues(manifest.InputSchema.Document, int.MaxValue));
            Assert.Equal(values, ModelSchema.CountValues(ModelManifest.FromJson(manifest.ToJson()).InputSchema.Document, int.MaxValue));
            return;
        }

        var error = Assert.Single(result.Errors);
        Assert.Equal(ManifestCodes.SchemaTooLarge, error.Code);
        Assert.Equal("input_schema", error.Path);
        Assert.Contains("4,096 values", error.Message, StringComparison.Ordinal);

        // The same schema in a file of the package.
        Directory.CreateDirectory(_dir.Combine("schemas"));
        File.WriteAllText(_dir.Combine("schemas", "big.json"), schema.ToJsonString());
        var fromFile = Assert.Single(Validate(Spec.Replace(Inline, "input_schema: {$ref: schemas/big.json}", StringComparison.Ordinal)).Errors);
        Assert.Equal(ManifestCodes.SchemaTooLarge, fromFile.Code);

        // And in a published manifest, which gateways and nodes read without the registry's word for it (a chain takes
        // any statement): refused before it is compiled.
        var published = Validate(Spec).Manifest!.ToJson();
        published["input_schema"] = schema.DeepClone();
        var refused = Assert.Throws<FormatException>(() => ModelManifest.FromJson(published));
        Assert.Contains("IM1046", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deterministic_is_an_optional_boolean_false_by_default_and_round_trips_through_json()
    {
        var plain = Assert.IsType<ModelManifest>(Validate(Spec).Manifest);
        Assert.False(plain.Deterministic);
        // Left out of the JSON when false: manifests published before the field existed serialise as they did.
        Assert.False(plain.ToJson().ContainsKey("deterministic"));
        var declared = Assert.IsType<ModelManifest>(Validate(Spec + "\ndeterministic: true\n").Manifest);
        Assert.True(declared.Deterministic);
        Assert.True((bool)declared.ToJson()["deterministic"]!);
        Assert.True(ModelManifest.FromJson(declared.ToJson()).Deterministic);
        Assert.False(Assert.IsType<ModelManifest>(Validate(Spec + "\ndeterministic: false\n").Manifest).Deterministic);
        foreach (var bad in new[] { "\"yes please\"", "3", "[true]", "{a: 1}" })
        {
            var error = Assert.Single(Validate(Spec + $"\ndeterministic: {bad}\n").Errors);
            Assert.Equal(ManifestCodes.WrongType, error.Code);
            Assert.Equal("deterministic", error.Path);
        }
    }

    [Fact]
    public void Fifty_megabyte_file_is_refused_without_reading_it()
    {
        using (var f = File.Create(_dir.Combine("model.yaml"))) f.SetLength(50L * 1024 * 1024);
        var result = ManifestReader.Validate(_dir.Path);
        var error = Assert.Single(result.Errors);
        Assert.Equal(ManifestCodes.FileTooLarge, error.Code);
        Assert.Contains("52,428,800", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Binary_garbage_is_not_text()
    {
        var bytes = new byte[4096];
        new Random(7).NextBytes(bytes);
        bytes[10] = 0;
        File.WriteAllBytes(_dir.Combine("model.yaml"), bytes);
        var error = Assert.Single(ManifestReader.Validate(_dir.Path).Errors);
        Assert.Equal(ManifestCodes.NotText, error.Code);
    }

    [Fact]
    public void Invalid_utf8_is_not_text()
    {
        File.WriteAllBytes(_dir.Combine("model.yaml"), [(byte)'n', (byte)':', 0xC3, 0x28, (byte)'\n']);
        Assert.Equal(ManifestCodes.NotText, Assert.Single(ManifestReader.Validate(_dir.Path).Errors).Code);
    }

    [Theory]
    [InlineData("model.yml")]
    [InlineData("Model.yaml")]
    public void A_manifest_under_a_near_name_is_named_with_the_rename(string near)
    {
        var package = _dir.Combine("near");
        Directory.CreateDirectory(package);
        File.WriteAllText(Path.Combine(package, near), "name: x\n");
        var error = Assert.Single(ManifestReader.Validate(package).Errors);
        Assert.Equal(ManifestCodes.ManifestMissing, error.Code);
        Assert.Equal($"rename {near} to model.yaml: a package's manifest is found by that name only", error.Hint);
    }

    /// <summary>
    /// `infra validate model.yml` validates that file, but `build`, `test` and `push` read only model.yaml: a warning
    /// (IM1013) says so, with IM1001's own hint to rename it; with a model.yaml beside it, to validate that one.
    /// </summary>
    [Theory]
    [InlineData("model.yml")]
    [InlineData("Model.yaml")]
    [InlineData("summarizer.yaml")]
    public void A_manifest_file_of_another_name_validates_with_a_warning_that_commands_read_only_model_yaml(string name)
    {
        File.WriteAllText(_dir.Combine(name), Spec);
        var result = ManifestReader.Validate(_dir.Combine(name));
        Assert.True(result.IsValid);
        var warning = Assert.Single(result.Warnings, w => w.Code == ManifestCodes.ManifestNameNotRead);
        Assert.Equal(name, warning.File);
        Assert.Contains($"read only model.yaml in {_dir.Path}, not {name}", warning.Message, StringComparison.Ordinal);
        Assert.Equal($"rename {name} to model.yaml: a package's manifest is found by that name only", warning.Hint);
        if (name != "summarizer.yaml") Assert.Equal(warning.Hint, Assert.Single(ManifestReader.Validate(_dir.Path).Errors).Hint);

        File.WriteAllText(_dir.Combine("model.yaml"), Spec);
        warning = Assert.Single(ManifestReader.Validate(_dir.Combine(name)).Warnings, w => w.Code == ManifestCodes.ManifestNameNotRead);
        Assert.Contains("another file", warning.Message, StringComparison.Ordinal);
        Assert.Contains($"infra validate {_dir.Path}", warning.Hint, StringComparison.Ordinal);
        Assert.DoesNotContain(ManifestReader.Validate(_dir.Combine("model.yaml")).Diagnostics, d => d.Code == ManifestCodes.ManifestNameNotRead);
        Assert.DoesNotContain(ManifestReader.Validate(_dir.Path).Diagnostics, d => d.Code == ManifestCodes.ManifestNameNotRead);
    }

    [Fact]
    public void Missing_manifest_and_missing_path_are_told_apart()
    {
        var empty = _dir.Combine("hooks");
        var noManifest = ManifestReader.Validate(empty);
        Assert.Equal(ManifestCodes.ManifestMissing, Assert.Single(noManifest.Errors).Code);
        Assert.False(noManifest.PathMissing);
        var missing = ManifestReader.Validate(_dir.Combine("nope"));
        Assert.True(missing.PathMissing);
    }

    [Fact]
    public void Dockerfile_disagreements_are_warnings_not_errors()
    {
        File.WriteAllText(_dir.Combine("Dockerfile"), "FROM python:3.10-slim\nEXPOSE 8080\nCMD [\"python3\", \"app.py\"]\n");
        var result = Validate(Spec);
        Assert.True(result.IsValid);
        Assert.Equal([ManifestCodes.ExposeMismatch, ManifestCodes.CommandMismatch], result.Warnings.Select(w => w.Code).Order().ToArray());
        Assert.Contains(result.Warnings, w => w.Code == ManifestCodes.ExposeMismatch && w.Line == 2 && w.File == "Dockerfile");
    }

    [Theory]
    // A continued instruction with a comment and an empty line inside, lower case, ARG before FROM, CRLF.
    [InlineData("ARG BASE=python:3.10-slim\r\nfrom ${BASE}\r\nRUN echo a && \\\r\n# a comment inside\r\n\r\n    echo b\r\nEXPOSE 9000\r\nCMD [\"python3\", \"serve.py\"]\r\n")]
    // The escape directive: a backtick continues the line.
    [InlineData("# escape=`\nFROM python:3.10-slim\nRUN echo a `\n    echo b\nEXPOSE 9000\nCMD [\"python3\", \"serve.py\"]\n")]
    // Here-documents: their bodies are not instructions, whatever their lines say (<<- drops leading tabs).
    [InlineData("FROM python:3.10-slim\nRUN <<EOF\nset -e\necho not an instruction\nEOF\nCOPY <<-\"END\" /app/serve.py\n\tprint('hi')\n\tEND\nEXPOSE 9000\nCMD [\"python3\", \"serve.py\"]\n")]
    public void A_dockerfile_the_engine_reads_gets_no_instruction_warning(string dockerfile)
    {
        File.WriteAllText(_dir.Combine("Dockerfile"), dockerfile);
        var result = Validate(Spec);
        Assert.True(result.IsValid);
        Assert.DoesNotContain(result.Warnings, w => w.Code == ManifestCodes.DockerfileInstructionUnknown || w.Code == ManifestCodes.DockerfileNoFrom);
    }

    [Theory]
    [InlineData("FORM python:3.10-slim\nCMD [\"python3\", \"serve.py\"]\n", "IM1053", 1, "'FORM' is not a Dockerfile instruction")]
    // A continuation that lost its backslash: the next line is read as an instruction of its own.
    [InlineData("FROM python:3.10-slim\nRUN apt-get update &&\n    apt-get install -y curl\nCMD [\"python3\", \"serve.py\"]\n", "IM1053", 3, "'APT-GET' is not a Dockerfile instruction")]
    [InlineData("COPY . /app\nFROM python:3.10-slim\nCMD [\"python3\", \"serve.py\"]\n", "IM1054", 1, "first instruction is COPY, not FROM")]
    [InlineData("# nothing but a comment\n", "IM1054", 1, "has no instruction")]
    public void A_dockerfile_the_engine_would_refuse_is_a_warning_on_its_line(string dockerfile, string code, int line, string message)
    {
        File.WriteAllText(_dir.Combine("Dockerfile"), dockerfile);
        var result = Validate(Spec);
        // A warning, not an error: a Dockerfile this reading misjudged must still build.
        Assert.True(result.IsValid);
        var warning = Assert.Single(result.Warnings, w => w.Code == code);
        Assert.Equal(("Dockerfile", line), (warning.File, warning.Line));
        Assert.Contains(message, warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_dockerfile_of_the_repository_reads_without_an_instruction_warning()
    {
        var root = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", ".."));
        var dockerfiles = Directory.EnumerateFiles(root, "Dockerfile", SearchOption.AllDirectories)
            .Where(p => !p.Contains("/bin/", StringComparison.Ordinal) && !p.Contains("/obj/", StringComparison.Ordinal) && !p.Contains("/.tmp/", StringComparison.Ordinal) && !p.Contains("node_modules", StringComparison.Ordinal))
            .ToList();
        Assert.True(dockerfiles.Count >= 5, $"{dockerfiles.Count} Dockerfiles under {root}");
        foreach (var path in dockerfiles)
        {
            File.Copy(path, _dir.Combine("Dockerfile"), overwrite: true);
            Assert.DoesNotContain(Validate(Spec).Warnings, w => w.Code == ManifestCodes.DockerfileInstructionUnknown || w.Code == ManifestCodes.DockerfileNoFrom);
        }
    }

    [Fact]
    public void Missing_dockerfile_is_an_error()
    {
        File.Delete(_dir.Combine("Dockerfile"));
        Assert.Equal(ManifestCodes.DockerfileMissing, Assert.Single(Validate(Spec).Errors).Code);
    }

    [Fact]
    public void Duplicate_keys_are_each_reported_and_the_rest_still_checked()
    {
        // The first port is out of range: a validation that stopped at the duplicates would not say so.
        var result = Validate(Spec.Replace("port: 9000", "port: 70000", StringComparison.Ordinal) + "port: 1\nname: BAD\n");
        Assert.Equal(["port", "name"], result.Errors.Where(e => e.Code == ManifestCodes.DuplicateKey).Select(e => e.Path));
        Assert.Contains(result.Errors, e => e.Code == ManifestCodes.InvalidPort && e.Path == "port");
    }

    /// <summary>
    /// Less memory than an engine starts a container with (6 MiB; Docker: "Minimum memory limit allowed is 6MB") is
    /// refused where it is written: it validated, and then the container never started.
    /// </summary>
    [Theory]
    [InlineData("5Mi", 5242880L)]
    [InlineData("6291455", 6291455L)]
    [InlineData("6M", 6000000L)]
    [InlineData("1Ki", 1024L)]
    public void Memory_below_6Mi_is_refused_naming_the_minimum(string memory, long bytes)
    {
        var result = Validate(Spec.Replace("memory: 4Gi", $"memory: {memory}", StringComparison.Ordinal));
        var error = Assert.Single(result.Errors);
        Assert.Equal(ManifestCodes.InvalidMemory, error.Code);
        Assert.Equal("resources.memory", error.Path);
        Assert.Equal($"memory: '{memory}' is {bytes} bytes, less than 6Mi (6291456 bytes), the least memory a container engine starts a container with", error.Message);
        Assert.Equal("give a Kubernetes quantity of at least 6Mi, such as 512Mi, 4Gi or 1G", error.Hint);
        Assert.Null(result.Manifest);
    }

    [Theory]
    [InlineData("6Mi")]
    [InlineData("6291456")]
    [InlineData("6144Ki")]
    [InlineData("7M")]
    public void Memory_of_6Mi_or_more_is_accepted(string memory)
    {
        var result = Validate(Spec.Replace("memory: 4Gi", $"memory: {memory}", StringComparison.Ordinal));
        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.True(result.Manifest!.Resources.MemoryBytes >= ResourceRequest.MinimumMemoryBytes);
        Assert.Equal(6L << 20, ResourceRequest.MinimumMemoryBytes);
    }

    [Theory]
    [InlineData("512Mi", 536870912L)]
    [InlineData("4Gi", 4294967296L)]
    [InlineData("1G", 1000000000L)]
    [InlineData("1.5Gi", 1610612736L)]
    [InlineData("128974848", 128974848L)]
    [InlineData("129e6", -1L)]
    [InlineData("1Ki", 1024L)]
    [InlineData("0", -1L)]
    [InlineData("-1Mi", -1L)]
    [InlineData("1.5", -1L)]
    [InlineData("100m", -1L)]
    [InlineData("99999999999Ei", -1L)]
    public void Memory_quantities_parse_exactly(string text, long expected)
    {
        var ok = Quantity.TryParseBytes(text, out var bytes, out var error);
        Assert.Equal(expected >= 0, ok);
        if (ok) Assert.Equal(expected, bytes);
        else Assert.NotEmpty(error);
    }

    [Theory]
    [InlineData("0", "'0' must be more than 0 bytes")]
    [InlineData("100m", "a size in bytes cannot be given in milli-units ('m' means 1/1000 here, not mega); use Mi or M")]
    public void A_size_refused_is_said_as_a_size_not_as_memory(string text, string expected)
    {
        // Read for model.yaml's memory and for sizes on the command line (infra test --max-response) alike.
        Assert.False(Quantity.TryParseBytes(text, out _, out var error));
        Assert.Equal(expected, error);
    }

    [Theory]
    [InlineData("2", 2000L)]
    [InlineData("0.5", 500L)]
    [InlineData("500m", 500L)]
    [InlineData("1m", 1L)]
    [InlineData("0.0005", -1L)]
    [InlineData("0m", -1L)]
    [InlineData("abc", -1L)]
    [InlineData("1000000", 1_000_000_000L)]
    [InlineData("1000000.001", -1L)]
    [InlineData("99999999999999999999999999999", -1L)]
    [InlineData("79228162514264337593543950335", -1L)]
    public void Cpu_quantities_parse_to_millicores(string text, long expected)
    {
        var ok = Quantity.TryParseMillicores(text, out var m, out _);
        Assert.Equal(expected >= 0, ok);
        if (ok) Assert.Equal(expected, m);
    }

    [Fact]
    public void Did_you_mean_suggests_close_names_only()
    {
        Assert.Equal("entrypoint", ManifestReader.Suggest("entrypiont", ManifestReader.TopLevelKeys));
        Assert.Equal("input_schema", ManifestReader.Suggest("input-schema", ManifestReader.TopLevelKeys));
        Assert.Null(ManifestReader.Suggest("colour", ManifestReader.TopLevelKeys));
    }

    /// <summary>Thousands of random mutations of valid manifests: validate must always answer, never throw.</summary>
    /// <summary>
    /// IM1070 names the package, not model.yaml, as its subject: a finding may be in a schema file or the Dockerfile.
    /// Each file is named with its count, and the findings follow in file, line and column order.
    /// </summary>
    [Fact]
    public void IM1070_names_the_package_and_each_file_with_errors()
    {
        var text = Spec.Replace("port: 9000", "port: 0", StringComparison.Ordinal)
            .Replace("input_schema:\n  type: object\n  properties:\n    text:\n      type: string\n  required: [text]\n",
                "input_schema: {$ref: schemas/not-object.json}\n", StringComparison.Ordinal);
        var e = Assert.Throws<ManifestException>(() => Validate(text).EnsureValid());
        Assert.Equal(ManifestCodes.PackageInvalid, e.Code);
        var lines = e.Message.Split('\n');
        Assert.Equal($"the package at {_dir.Path} has 2 errors (model.yaml: 1 error; schemas/not-object.json: 1 error):", lines[0]);
        Assert.StartsWith("  model.yaml:6:7: error IM1028: ", lines[1], StringComparison.Ordinal);
        Assert.StartsWith("  schemas/not-object.json", lines[2], StringComparison.Ordinal);
        Assert.Contains("error IM1042", lines[2], StringComparison.Ordinal);
        Assert.Equal($"`infra validate {_dir.Path}` lists every finding with its fix", e.Hint);

        // A manifest under another name (publish --model other.yaml): the hint names that file, which validating the
        // directory would not read (it reads model.yaml, or finds none).
        File.WriteAllText(_dir.Combine("other.yaml"), text);
        e = Assert.Throws<ManifestException>(() => ManifestReader.Validate(_dir.Combine("other.yaml")).EnsureValid());
        Assert.Equal($"`infra validate {_dir.Combine("other.yaml")}` lists every finding with its fix", e.Hint);

        // A valid model.yaml whose package has no Dockerfile: the one error is the Dockerfile's, and model.yaml is not blamed.
        File.Delete(_dir.Combine("Dockerfile"));
        e = Assert.Throws<ManifestException>(() => Validate(Spec).EnsureValid());
        Assert.Equal($"the package at {_dir.Path} has 1 error (Dockerfile: 1 error):", e.Message.Split('\n')[0]);
        Assert.DoesNotContain("model.yaml has", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Random_mutations_never_crash_the_validator()
    {
        string[] bases = [.. Directory.GetFiles(Path.Combine(Corpus, "valid"), "*.yaml").Order().Select(File.ReadAllText)];
        const string alphabet = ":{}[]-#&*!|>'\"\t\n ,?%@`\\0aZ9.~$\u00e9\u0000";
        var mutation = Gen.Select(Gen.Int[0, bases.Length - 1], Gen.Int[0, 1_000_000], Gen.Int[0, 5], Gen.Int[0, alphabet.Length - 1], Gen.Int[1, 40]);
        var runs = 0;
        mutation.Sample(t =>
        {
            var (b, pos, op, ch, len) = t;
            var text = bases[b];
            var at = pos % (text.Length + 1);
            text = op switch
            {
                0 => text.Insert(at, alphabet[ch].ToString()),
                1 => text.Remove(at, Math.Min(len, text.Length - at)),
                2 => text[..at],
                3 => text.Insert(at, new string(alphabet[ch], len)),
                4 => string.Join('\n', text.Split('\n').Select((l, i) => i == at % 30 ? "  " + l : l)),
                _ => text.Replace(": ", ":" + alphabet[ch], StringComparison.Ordinal),
            };
            File.WriteAllText(_dir.Combine("model.yaml"), text);
            var result = ManifestReader.Validate(_dir.Path);
            Assert.True(result.IsValid || result.Errors.Any());
            Assert.All(result.Diagnostics, d => Assert.Matches("^IM1[0-9]{3}$", d.Code));
            runs++;
        }, iter: 3000, threads: 1);
        Assert.Equal(3000, runs);
    }
}
