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

    [Fact]
    public async Task Content_must_resolve_to_the_published_image()
    {
        var candidate = Candidate();
        Assert.True((await new ContentAdmission((_, _) => Task.FromResult(Image)).AdmitAsync(candidate, CancellationToken.None)).Accepted);

        var other = await new ContentAdmission((_, _) => Task.FromResult("sha256:" + new string('c', 64))).AdmitAsync(candidate, CancellationToken.None);
        Assert.Equal(RegistryErrorCodes.ContentMismatch, other.Code);
        Assert.Contains(Image, other.Reason, StringComparison.Ordinal);

        var missing = await new ContentAdmission((_, _) => throw new IOException("connection refused")).AdmitAsync(candidate, CancellationToken.None);
        Assert.Equal(RegistryErrorCodes.ContentUnresolved, missing.Code);
        Assert.Contains("connection refused", missing.Reason, StringComparison.Ordinal);

        var none = await new ContentAdmission((_, _) => Task.FromResult(Image)).AdmitAsync(Candidate(refs: []), CancellationToken.None);
        Assert.Equal(RegistryErrorCodes.ContentUnresolved, none.Code);
    }

    [Fact]
    public async Task All_admissions_stop_at_the_first_rejection()
    {
        var calls = 0;
        var all = new AllAdmissions(new ManifestAdmission(), new ContentAdmission((_, _) =>
        {
            calls++;
            return Task.FromResult(Image);
        }));
        Assert.False((await all.AdmitAsync(Candidate(withManifest: false), CancellationToken.None)).Accepted);
        Assert.Equal(0, calls);
        Assert.True((await all.AdmitAsync(Candidate(), CancellationToken.None)).Accepted);
        Assert.Equal(1, calls);
    }
}
