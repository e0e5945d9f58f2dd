using System.Text;
using InfraMind.Manifest;
using InfraMind.Registry.Models;
using InfraMind.Signing;
using Semver;

namespace InfraMind.Registry.Tests.Models;

/// <summary>The checks a registry runs before it logs a publish: the manifest travels with it, the content resolves.</summary>
public sealed class AdmissionTests
{
    private const string Yaml = """
        name: adm-model
        version: 1.2.3
        entrypoint: serve.py
        runtime: python3.10
        protocol: rest
        port: 9000
        input_schema: {type: object, properties: {text: {type: string}}, required: [text]}
        output_schema: {type: object, properties: {summary: {type: string}}}

        """;

    private static readonly string Image = "sha256:" + new string('b', 64);

    private static PublishCandidate Candidate(string yaml = Yaml, bool withManifest = true, string? name = null, IReadOnlyList<PublishedReference>? refs = null)
    {
        var bytes = Encoding.UTF8.GetBytes(yaml);
        var manifest = ManifestReader.ValidateContent(bytes).Manifest!;
        using var key = SigningKey.CreateEphemeral();
        var statement = PublishStatement.Create(name ?? manifest.Name, manifest.Version.ToString(), Image, bytes,
            refs ?? [new PublishedReference("local://" + Image, "local")], key.PublicKey, TimeProvider.System, withManifest ? manifest.ToJson() : null);
        var envelope = Dsse.SignPublish(statement, key);
        var parsed = Dsse.VerifyPublish(envelope).EnsureValid();
        return new PublishCandidate(envelope, parsed, SemVersion.Parse(parsed.Version, SemVersionStyles.Strict));
    }

    [Fact]
    public async Task A_statement_carrying_its_valid_manifest_is_admitted_and_round_trips()
    {
        var candidate = Candidate();
        Assert.NotNull(candidate.Statement.Manifest);
        Assert.Equal(Encoding.UTF8.GetBytes(Yaml), candidate.Statement.ManifestSource);
        Assert.True((await new ManifestAdmission().AdmitAsync(candidate, CancellationToken.None)).Accepted);
    }

    [Fact]
    public async Task A_statement_without_its_manifest_is_refused()
    {
        var result = await new ManifestAdmission().AdmitAsync(Candidate(withManifest: false), CancellationToken.None);
        Assert.False(result.Accepted);
        Assert.Equal(RegistryErrorCodes.ManifestMissing, result.Code);
    }

    [Fact]
    public async Task A_manifest_of_another_model_is_refused()
    {
        var result = await new ManifestAdmission().AdmitAsync(Candidate(name: "other-model"), CancellationToken.None);
        Assert.False(result.Accepted);
        Assert.Equal(RegistryErrorCodes.ManifestMismatch, result.Code);
    }

    [Fact]
    public void Manifest_bytes_that_do_not_hash_to_the_digest_are_a_schema_error()
    {
        var candidate = Candidate();
        var statement = candidate.Statement.ToStatement();
        statement.Predicate["manifestSource"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(Yaml + "# changed\n"));
        var e = Assert.Throws<SigningException>(() => PublishStatement.FromStatement(statement));
        Assert.Equal(SigningErrorCodes.StatementSchema, e.Code);
        Assert.Contains("/predicate/manifestSource", e.Message, StringComparison.Ordinal);
    }

    private const string Label = "org.inframind.manifest-digest";

    /// <summary>A fetcher whose references answer as told, counting fetches, screening nothing out unless told.</summary>
    private sealed class FakeFetcher(Func<PublishedReference, FetchedImage> answer, Func<PublishedReference, AdmissionResult?>? screen = null) : IContentFetcher
    {
        public int Fetches { get; private set; }

        public int Kept { get; private set; }

        public int Disposed { get; private set; }

        public AdmissionResult? Screen(PublishedReference reference) => screen?.Invoke(reference);

        public IContentFetch Begin() => new Session(this);

        private sealed class Session(FakeFetcher owner) : IContentFetch
        {
            public Task<FetchedImage> FetchAsync(PublishedReference reference, CancellationToken cancellationToken)
            {
                owner.Fetches++;
                return Task.FromResult(owner.Fetch(reference));
            }

            public Task KeepAsync(CancellationToken cancellationToken)
            {
                owner.Kept++;
                return Task.CompletedTask;
            }

            public ValueTask DisposeAsync()
            {
                owner.Disposed++;
                return ValueTask.CompletedTask;
            }
        }

        private FetchedImage Fetch(PublishedReference reference) => answer(reference);
    }

    private static FetchedImage Holds(string digest, string? label = null) =>
        new(digest, label is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [Label] = label });

    [Fact]
    public async Task Content_must_resolve_to_the_published_image()
    {
        var candidate = Candidate();
        var good = new FakeFetcher(_ => Holds(Image));
        var accepted = await new ContentAdmission(good, 8, Label).AdmitAsync(candidate, CancellationToken.None);
        Assert.True(accepted.Accepted);
        Assert.NotNull(accepted.Content);

        var other = new FakeFetcher(_ => Holds("sha256:" + new string('c', 64)));
        var mismatch = await new ContentAdmission(other, 8, Label).AdmitAsync(candidate, CancellationToken.None);
        Assert.Equal(RegistryErrorCodes.ContentMismatch, mismatch.Code);
        Assert.Contains(Image, mismatch.Reason, StringComparison.Ordinal);
        Assert.Null(mismatch.Content);
        Assert.Equal(1, other.Disposed); // what was fetched for a refused publish is removed

        var failing = new FakeFetcher(_ => throw new InfraMindException(new ErrorCode("IM4203", FailureKind.Unavailable), "connection refused"));
        var missing = await new ContentAdmission(failing, 8, Label).AdmitAsync(candidate, CancellationToken.None);
        Assert.Equal(RegistryErrorCodes.ContentUnresolved, missing.Code);
        Assert.Contains("IM4203 connection refused", missing.Reason, StringComparison.Ordinal);

        var none = await new ContentAdmission(good, 8, Label).AdmitAsync(Candidate(refs: []), CancellationToken.None);
        Assert.Equal(RegistryErrorCodes.ContentUnresolved, none.Code);
    }

    [Fact]
    public async Task An_image_built_from_another_manifest_is_refused()
    {
        var candidate = Candidate();
        var same = await new ContentAdmission(new FakeFetcher(_ => Holds(Image, candidate.Statement.ManifestDigest)), 8, Label).AdmitAsync(candidate, CancellationToken.None);
        Assert.True(same.Accepted);
        var otherManifest = "sha256:" + new string('d', 64);
        var other = await new ContentAdmission(new FakeFetcher(_ => Holds(Image, otherManifest)), 8, Label).AdmitAsync(candidate, CancellationToken.None);
        Assert.Equal(RegistryErrorCodes.ImageBoundToOtherManifest, other.Code);
        Assert.Contains(otherManifest, other.Reason, StringComparison.Ordinal);
        Assert.Contains(candidate.Statement.ManifestDigest, other.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task References_are_deduplicated_capped_and_screened_before_anything_is_fetched()
    {
        var many = Enumerable.Range(0, 200).Select(i => new PublishedReference($"https://example.test/{i}.tar#sha256={new string('e', 64)}", "https")).ToList();
        var fetcher = new FakeFetcher(_ => Holds(Image));
        var capped = await new ContentAdmission(fetcher, 8, Label).AdmitAsync(Candidate(refs: many), CancellationToken.None);
        Assert.Equal(RegistryErrorCodes.TooManyReferences, capped.Code);
        Assert.Contains("200", capped.Reason, StringComparison.Ordinal);
        Assert.Equal(0, fetcher.Fetches);

        var repeated = Enumerable.Repeat(many[0], 50).ToList();
        Assert.True((await new ContentAdmission(fetcher, 8, Label).AdmitAsync(Candidate(refs: repeated), CancellationToken.None)).Accepted);
        Assert.Equal(1, fetcher.Fetches);

        var screened = new FakeFetcher(_ => Holds(Image), r => r.Uri.EndsWith("7.tar#sha256=" + new string('e', 64), StringComparison.Ordinal)
            ? AdmissionResult.Reject(RegistryErrorCodes.ReferenceNotAccepted, "no") : null);
        var refused = await new ContentAdmission(screened, 8, Label).AdmitAsync(Candidate(refs: many.Take(8).ToList()), CancellationToken.None);
        Assert.Equal(RegistryErrorCodes.ReferenceNotAccepted, refused.Code);
        Assert.Equal(0, screened.Fetches); // the eighth reference is refused before the first is fetched
    }

    [Fact]
    public async Task The_published_manifest_must_be_the_whole_one_its_model_yaml_produces()
    {
        var candidate = Candidate();
        Assert.True((await new ManifestAdmission().AdmitAsync(candidate, CancellationToken.None)).Accepted);

        // Same name, version and port, but another input schema and memory than model.yaml says: signed by the publisher, still refused.
        var statement = candidate.Statement;
        var tampered = (System.Text.Json.Nodes.JsonObject)statement.Manifest!.DeepClone();
        tampered["resources"]!["memory"] = "64Gi";
        tampered["input_schema"] = System.Text.Json.Nodes.JsonNode.Parse("{\"type\":\"object\",\"properties\":{\"other\":{\"type\":\"string\"}}}");
        using var key = SigningKey.CreateEphemeral();
        var forged = PublishStatement.Create(statement.ModelName, statement.Version, Image, statement.ManifestSource!, statement.ContentReferences,
            key.PublicKey, TimeProvider.System, tampered);
        var parsed = Dsse.VerifyPublish(Dsse.SignPublish(forged, key)).EnsureValid();
        var result = await new ManifestAdmission().AdmitAsync(new PublishCandidate(Dsse.SignPublish(forged, key), parsed, candidate.Version), CancellationToken.None);
        Assert.Equal(RegistryErrorCodes.ManifestMismatch, result.Code);
        Assert.Contains("resources", result.Reason, StringComparison.Ordinal);
        Assert.Contains("input_schema", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_schema_file_travels_inside_the_published_manifest_and_is_checked_by_the_same_rules()
    {
        const string withRef = """
            name: adm-ref
            version: 1.0.0
            entrypoint: serve.py
            runtime: python3.10
            protocol: rest
            port: 9000
            input_schema: {$ref: schemas/in.json}
            output_schema: {type: object}

            """;
        var bytes = Encoding.UTF8.GetBytes(withRef);
        var schema = System.Text.Json.Nodes.JsonNode.Parse("{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}}}")!.AsObject();
        var inline = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(withRef.Replace("{$ref: schemas/in.json}", schema.ToJsonString(), StringComparison.Ordinal))).Manifest!;
        var resolved = inline with { ManifestDigest = "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)) };
        using var key = SigningKey.CreateEphemeral();
        PublishCandidate Sign(System.Text.Json.Nodes.JsonObject manifest)
        {
            var statement = PublishStatement.Create("adm-ref", "1.0.0", Image, bytes, [new PublishedReference("local://" + Image, "local")], key.PublicKey, TimeProvider.System, manifest);
            var envelope = Dsse.SignPublish(statement, key);
            return new PublishCandidate(envelope, Dsse.VerifyPublish(envelope).EnsureValid(), SemVersion.Parse("1.0.0", SemVersionStyles.Strict));
        }

        Assert.True((await new ManifestAdmission().AdmitAsync(Sign(resolved.ToJson()), CancellationToken.None)).Accepted);
        var notObject = resolved.ToJson();
        notObject["input_schema"] = System.Text.Json.Nodes.JsonNode.Parse("{\"type\":\"string\"}");
        Assert.False((await new ManifestAdmission().AdmitAsync(Sign(notObject), CancellationToken.None)).Accepted);
    }

    [Fact]
    public async Task All_admissions_stop_at_the_first_rejection()
    {
        var fetcher = new FakeFetcher(_ => Holds(Image));
        var all = new AllAdmissions(new ManifestAdmission(), new ContentAdmission(fetcher, 8, Label));
        Assert.False((await all.AdmitAsync(Candidate(withManifest: false), CancellationToken.None)).Accepted);
        Assert.Equal(0, fetcher.Fetches);
        var accepted = await all.AdmitAsync(Candidate(), CancellationToken.None);
        Assert.True(accepted.Accepted);
        Assert.Equal(1, fetcher.Fetches);
        await accepted.Content!.KeepAsync(CancellationToken.None);
        await accepted.Content.DisposeAsync();
        Assert.Equal((1, 1), (fetcher.Kept, fetcher.Disposed));
    }
    private sealed class Scripted(Func<Task<AdmissionResult>> admit) : IPublishAdmission
    {
        public Task<AdmissionResult> AdmitAsync(PublishCandidate candidate, CancellationToken cancellationToken) => admit();
    }

    private sealed class Content : IAdmittedContent
    {
        public Task KeepAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    [Fact]
    public async Task A_bounded_admission_holds_a_slot_until_its_content_is_let_go_and_frees_it_on_every_other_end()
    {
        var next = (Func<Task<AdmissionResult>>)(() => Task.FromResult(AdmissionResult.Accept with { Content = new Content() }));
        var bounded = new BoundedAdmission(new Scripted(() => next()), 1);
        var candidate = Candidate();

        var held = await bounded.AdmitAsync(candidate, CancellationToken.None);
        var busy = await Assert.ThrowsAsync<RegistryException>(() => bounded.AdmitAsync(candidate, CancellationToken.None));
        Assert.Equal((RegistryErrorCodes.AdmissionsBusy, RegistryErrorKind.Unavailable), (busy.Code, busy.Category));
        await held.Content!.DisposeAsync();
        await held.Content.DisposeAsync(); // twice frees once

        // No content (a refusal before any fetch), and a check that throws: the slot comes back either way.
        next = () => Task.FromResult(AdmissionResult.Reject(RegistryErrorCodes.ManifestInvalid, "no"));
        Assert.False((await bounded.AdmitAsync(candidate, CancellationToken.None)).Accepted);
        next = () => throw new InvalidOperationException("fetch failed");
        await Assert.ThrowsAsync<InvalidOperationException>(() => bounded.AdmitAsync(candidate, CancellationToken.None));
        next = () => Task.FromResult(AdmissionResult.Accept with { Content = new Content() });
        var again = await bounded.AdmitAsync(candidate, CancellationToken.None);
        await Assert.ThrowsAsync<RegistryException>(() => bounded.AdmitAsync(candidate, CancellationToken.None));
        await again.Content!.DisposeAsync();
    }
}
