using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using InfraMind.Manifest;
using InfraMind.Signing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// A real `infra registry serve` process on a free port of 127.0.0.1, with its own home, and the HTTP client a
/// stranger would use against it: envelopes are signed here and POSTed as they are, no `infra publish` in between.
/// Stopped by its PID.
/// </summary>
internal sealed class RegistryServeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Task<string> _stderr;

    private RegistryServeProcess(Process process, Uri address, string home)
    {
        _process = process;
        _stderr = process.StandardError.ReadToEndAsync();
        Address = address;
        Home = home;
        Http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(120) };
    }

    public Uri Address { get; }

    public string Home { get; }

    public HttpClient Http { get; }

    public string Store => Path.Combine(Home, "store");

    public static async Task<RegistryServeProcess> StartAsync(string home, params string[] options)
    {
        string[] port = options.Contains("--port") ? [] : ["--port", "0"];
        var process = Process.Start(InfraProcess.StartInfo(home, ["registry", "serve", .. port, "--json", .. options]))!;
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var json = new StringBuilder();
        try
        {
            // The JSON document it prints once listening, read up to its closing brace.
            while (await process.StandardOutput.ReadLineAsync(limit.Token) is { } line)
            {
                json.AppendLine(line);
                if (line.StartsWith('}')) break;
            }
        }
        catch (OperationCanceledException)
        {
        }

        if (!json.ToString().TrimEnd().EndsWith('}'))
        {
            process.Kill();
            Assert.Fail("infra registry serve did not start: " + json + await process.StandardError.ReadToEndAsync());
        }

        return new RegistryServeProcess(process, new Uri(JsonDocument.Parse(json.ToString()).RootElement.GetProperty("registry").GetString()!), home);
    }

    public const string Yaml = """
        name: NAME
        version: VERSION
        entrypoint: serve.py
        runtime: python3.10
        protocol: rest
        port: 9000
        input_schema: {type: object, properties: {text: {type: string}}, required: [text]}
        output_schema: {type: object, properties: {summary: {type: string}}}

        """;

    /// <summary>A publish of <paramref name="name"/>@<paramref name="version"/> as `infra publish` builds it (the manifest travels with it), signed by <paramref name="key"/>.</summary>
    public static DsseEnvelope Envelope(SigningKey key, string name, string version, string imageDigest, params string[] references)
    {
        var yaml = Encoding.UTF8.GetBytes(Yaml.Replace("NAME", name, StringComparison.Ordinal).Replace("VERSION", version, StringComparison.Ordinal));
        var manifest = ManifestReader.ValidateContent(yaml).Manifest!;
        var statement = PublishStatement.Create(name, version, imageDigest, yaml,
            [.. references.Select(r => new PublishedReference(r, r.Split(':')[0]))], key.PublicKey, TimeProvider.System, manifest.ToJson());
        return Dsse.SignPublish(statement, key);
    }

    /// <summary>The manifest digest the <see cref="Yaml"/> of this name and version has.</summary>
    public static string ManifestDigest(string name, string version) =>
        PublishStatement.DigestOf(Encoding.UTF8.GetBytes(Yaml.Replace("NAME", name, StringComparison.Ordinal).Replace("VERSION", version, StringComparison.Ordinal)));

    public Task<(int Status, string? Code, string Detail, HttpResponseMessage Response)> PublishAsync(DsseEnvelope envelope) => PublishAsync(Http, envelope);

    /// <summary>POSTs <paramref name="envelope"/> to the registry at <paramref name="http"/>'s base address: its status, and the problem's code and detail.</summary>
    public static async Task<(int Status, string? Code, string Detail, HttpResponseMessage Response)> PublishAsync(HttpClient http, DsseEnvelope envelope)
    {
        var content = new StringContent(envelope.ToJson(), Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
        var response = await http.PostAsync(new Uri("v1/entries", UriKind.Relative), content);
        var body = await response.Content.ReadAsStringAsync();
        JsonNode? problem = null;
        try
        {
            problem = JsonNode.Parse(body);
        }
        catch (JsonException)
        {
        }

        return ((int)response.StatusCode, problem?["code"]?.GetValue<string>(), problem?["detail"]?.GetValue<string>() ?? body, response);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited) _process.Kill();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        _ = await _stderr;
        _process.Dispose();
    }
}
