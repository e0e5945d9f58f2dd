using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Hosting;
using InfraMind.Registry.Http;
using InfraMind.Registry.Models;
using InfraMind.Registry.Tests.Models;
using InfraMind.Signing;

namespace InfraMind.Registry.Tests.Http;

/// <summary>
/// What a stranger can make the real registry server do with one publish (#13 §1, §4): bodies capped however they are
/// sent, signatures capped and only the verifying one logged, rates limited per address and per key, and nothing
/// fetched (admission not even asked) for a publish that ownership or immutability refuse.
/// </summary>
public sealed class PublishBoundaryTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-reg-boundary");

    public void Dispose() => _dir.Dispose();

    private async Task<(RegistryServer Server, HttpClient Http)> StartAsync(IPublishAdmission? admission = null, int perAddress = 0, int perKey = 0,
        string? dataDirectory = null, long minFreeDisk = RegistryServerOptions.DefaultMinFreeDiskBytes)
    {
        var server = await RegistryServer.StartAsync(new RegistryServerOptions(dataDirectory ?? _dir.Combine(Guid.NewGuid().ToString("N")), "http://127.0.0.1:0")
        {
            Admission = admission, PublishesPerMinutePerAddress = perAddress, PublishesPerMinutePerKey = perKey, MinFreeDiskBytes = minFreeDisk,
        }, CancellationToken.None);
        return (server, new HttpClient { BaseAddress = server.Address });
    }

    private static Task<HttpResponseMessage> Post(HttpClient http, DsseEnvelope envelope) =>
        http.PostAsync(new Uri("/v1/entries", UriKind.Relative), new StringContent(envelope.ToJson(), Encoding.UTF8, "application/json"));

    private static async Task<string?> Code(HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync())?["code"]?.GetValue<string>();

    /// <summary>
    /// POSTs a chunked body of <paramref name="size"/> spaces over a raw connection (HttpClient gives up on the answer
    /// when the server stops reading early), reading the answer meanwhile; returns the answer and the bytes the server
    /// took before it answered and closed.
    /// </summary>
    private static async Task<(string Answer, long Sent)> PostChunkedAsync(Uri server, long size)
    {
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(server.Host, server.Port);
        var stream = client.GetStream();
        var answer = new StringBuilder();
        var reading = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            int n;
            try
            {
                while ((n = await stream.ReadAsync(buffer)) > 0) answer.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }
            catch (IOException)
            {
            }
        });
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /v1/entries HTTP/1.1\r\nHost: {server.Authority}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"));
        var chunk = Encoding.ASCII.GetBytes($"{64 << 10:x}\r\n{new string(' ', 64 << 10)}\r\n");
        long sent = 0;
        try
        {
            while (sent < size && !reading.IsCompleted)
            {
                await stream.WriteAsync(chunk);
                sent += 64 << 10;
            }
        }
        catch (IOException)
        {
            // The server answered and closed: what it refused was not sent.
        }

        await reading.WaitAsync(TimeSpan.FromSeconds(30));
        return (answer.ToString(), sent);
    }

    [Fact]
    public async Task Below_its_disk_floor_the_registry_takes_no_publish_unread_and_reads_go_on()
    {
        using var alice = SigningKey.CreateEphemeral("alice");
        var data = _dir.Combine("floor");
        Directory.CreateDirectory(data);
        // A floor a tebibyte above what this file system has free: every publish is below it.
        var floor = new DriveInfo(data).AvailableFreeSpace + (1L << 40);
        var (server, http) = await StartAsync(dataDirectory: data, minFreeDisk: floor);
        await using (server)
        using (http)
        {
            using var refused = await Post(http, ModelRegistryTests.Envelope(alice, "m", "1.0.0"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal("IM5153", await Code(refused));
            var detail = JsonNode.Parse(await refused.Content.ReadAsStringAsync())?["detail"]?.GetValue<string>() ?? "";
            Assert.Contains($"below its floor of {Manifest.Quantity.FormatBytes(floor)}", detail, StringComparison.Ordinal);
            Assert.Contains("reads of the log go on", detail, StringComparison.Ordinal);

            // Refused before the body is read: of a 128 MB chunked body, no more than the kernel's buffers took.
            var (answer, sent) = await PostChunkedAsync(server.Address, 128L << 20);
            Assert.StartsWith("HTTP/1.1 503", answer, StringComparison.Ordinal);
            Assert.Contains("IM5153", answer, StringComparison.Ordinal);
            Assert.True(sent < 64L << 20, $"{sent} of {128L << 20} bytes were taken");

            // Nothing was logged, the log still answers, and the refusals are counted under their code.
            var entries = JsonNode.Parse(await http.GetStringAsync(new Uri("/v1/entries", UriKind.Relative)))!;
            Assert.Equal(0, entries["size"]!.GetValue<long>());
            Assert.Contains("reason=\"IM5153\"} 2", await http.GetStringAsync(new Uri("/metrics", UriKind.Relative)), StringComparison.Ordinal);
        }

        // The same registry with a floor under what is free: the publish is taken.
        (server, http) = await StartAsync(dataDirectory: data, minFreeDisk: 1 << 20);
        await using (server)
        using (http)
        {
            using var taken = await Post(http, ModelRegistryTests.Envelope(alice, "m", "1.0.0"));
            Assert.Equal(HttpStatusCode.Created, taken.StatusCode);
        }
    }

    [Fact]
    public async Task A_chunked_128MB_envelope_is_413_IM5108_and_not_read_whole()
    {
        var (server, http) = await StartAsync();
        await using (server)
        using (http)
        {
            // What the client got to write is what the server read (1 MiB, the limit) plus what the kernel's buffers
            // took meanwhile: up to 32 MiB received and 4 MiB sent here (tcp_rmem, tcp_wmem). With 7 MB, a loaded
            // machine's slower answer let the buffers take it all; against 128 MB, half is far beyond any buffer.
            var (answer, sent) = await PostChunkedAsync(server.Address, 128L << 20);
            Assert.StartsWith("HTTP/1.1 413", answer, StringComparison.Ordinal);
            Assert.Contains("IM5108", answer, StringComparison.Ordinal);
            Assert.Contains("\"the publish body is larger than 1048576 bytes (1 MiB); an envelope is a few KiB.\"", answer, StringComparison.Ordinal);
            Assert.True(sent < 64L << 20, $"{sent} of {128L << 20} bytes were taken");

            // Declared too: refused on the header.
            using var declared = new ByteArrayContent(new byte[(1 << 20) + 1]);
            using var refused = await http.PostAsync(new Uri("/v1/entries", UriKind.Relative), declared);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);
            var problem = JsonNode.Parse(await refused.Content.ReadAsStringAsync())!;
            Assert.Equal("IM5108", (string?)problem["code"]);
            Assert.Equal("the publish body declares 1048577 bytes, more than 1048576 bytes (1 MiB); an envelope is a few KiB.", (string?)problem["detail"]);

            // Refused publishes are counted under their code like any other refusal (they were not).
            var metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
            Assert.Equal(2, PrometheusText.Value(metrics, "inframind_registry_publish_refusals_total{reason=\"IM5108\"}"));
        }
    }

    [Fact]
    public async Task An_envelope_with_1000_signatures_is_refused_and_only_the_verifying_signature_is_logged()
    {
        var (server, http) = await StartAsync();
        await using (server)
        using (http)
        {
            using var alice = SigningKey.CreateEphemeral("alice");
            var signed = ModelRegistryTests.Envelope(alice, "many-sigs", "1.0.0");
            var junk = Enumerable.Range(0, 1000).Select(i => new DsseSignature("", Encoding.ASCII.GetBytes($"junk-{i}"))).ToList();
            using var flood = await Post(http, signed with { Signatures = [.. junk, .. signed.Signatures] });
            Assert.Equal(HttpStatusCode.BadRequest, flood.StatusCode);
            Assert.Equal("IM5109", await Code(flood));

            // Within the bound, the junk does not reach the log: the entry holds the one signature that verified.
            using var few = await Post(http, signed with { Signatures = [.. junk.Take(ModelRegistry.MaxSignatures - 1), .. signed.Signatures] });
            Assert.Equal(HttpStatusCode.Created, few.StatusCode);
            var bundle = EntryBundle.Parse(await few.Content.ReadAsStringAsync());
            var logged = Assert.Single(bundle.Envelope.Signatures);
            Assert.Equal(signed.Signatures[0].Sig.ToArray(), logged.Sig.ToArray());
        }
    }

    /// <summary>A host on IPv6 picks any address of its /64: counted one by one, the per-address rate would be no limit.</summary>
    [Theory]
    [InlineData("2001:db8:1:2:3:4:5:6", "2001:db8:1:2:ffff::1", true)]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:3::1", false)]
    [InlineData("::ffff:192.0.2.7", "192.0.2.7", true)]
    [InlineData("192.0.2.7", "192.0.2.8", false)]
    public void Publishes_are_counted_per_IPv4_address_and_per_IPv6_64(string a, string b, bool same) =>
        Assert.Equal(same, PublishLimits.AddressPartition(IPAddress.Parse(a)) == PublishLimits.AddressPartition(IPAddress.Parse(b)));

    [Fact]
    public async Task Publishes_over_the_rate_are_429_IM5104_with_Retry_After_per_address_and_per_key()
    {
        using var alice = SigningKey.CreateEphemeral("alice");
        var (server, http) = await StartAsync(perAddress: 3);
        await using (server)
        using (http)
        {
            for (var i = 0; i < 3; i++)
                Assert.Equal(HttpStatusCode.Created, (await Post(http, ModelRegistryTests.Envelope(alice, "rated", $"1.0.{i}"))).StatusCode);
            using var limited = await Post(http, ModelRegistryTests.Envelope(alice, "rated", "1.0.9"));
            Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
            Assert.Contains("this client address (127.0.0.1) made more than 3 publishes", await limited.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Equal("IM5104", await Code(limited));
            Assert.True(limited.Headers.RetryAfter?.Delta is { TotalSeconds: > 0 and <= 60 }, limited.Headers.RetryAfter?.ToString());
        }

        (server, http) = await StartAsync(perKey: 2);
        await using (server)
        using (http)
        {
            using var bob = SigningKey.CreateEphemeral("bob");
            // Envelopes that only claim alice's key (their signature does not verify) do not spend her budget.
            var forged = ModelRegistryTests.Envelope(alice, "keyed", "0.0.1");
            for (var i = 0; i < 5; i++)
                Assert.Equal(HttpStatusCode.BadRequest, (await Post(http, forged with { Signatures = [new DsseSignature("", new byte[70])] })).StatusCode);
            for (var i = 0; i < 2; i++)
                Assert.Equal(HttpStatusCode.Created, (await Post(http, ModelRegistryTests.Envelope(alice, "keyed", $"1.0.{i}"))).StatusCode);
            using var limited = await Post(http, ModelRegistryTests.Envelope(alice, "keyed", "1.0.9"));
            Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
            Assert.Equal("IM5104", await Code(limited));
            Assert.NotNull(limited.Headers.RetryAfter);
            // Another key is not held back by alice's budget.
            Assert.Equal(HttpStatusCode.Created, (await Post(http, ModelRegistryTests.Envelope(bob, "bobs", "1.0.0"))).StatusCode);
        }
    }

    /// <summary>An admission that counts how often it is asked, as a fetching one would fetch.</summary>
    /// <summary>
    /// A publish whose content fetch stalls (a registry that stops answering mid-blob) does not hold a stopping server:
    /// after <see cref="ServerOptions.StopGraceSeconds"/> the request is aborted and the fetch cancelled, so `infra
    /// registry serve` ends within the 20 s the CLI gives it after Ctrl-C and removes the fetch's scratch area. With
    /// ASP.NET Core's default of 30 s the process was ended first: exit 130 instead of 0, the scratch area left behind.
    /// </summary>
    [Fact]
    public async Task A_stopping_server_aborts_a_publish_whose_fetch_stalls_within_its_grace()
    {
        var admission = new StalledAdmission();
        var (server, http) = await StartAsync(admission);
        using (http)
        {
            using var alice = SigningKey.CreateEphemeral("alice");
            var publish = Post(http, ModelRegistryTests.Envelope(alice, "stalled", "1.0.0"));
            await admission.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30));
            var stopping = System.Diagnostics.Stopwatch.StartNew();
            await server.DisposeAsync();
            stopping.Stop();
            Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(ServerOptions.StopGraceSeconds + 7),
                $"the server took {stopping.Elapsed.TotalSeconds:0.0} s to stop with a publish in flight (the CLI ends a command 20 s after Ctrl-C)");
            Assert.True(await admission.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(5)), "the stalled fetch was not cancelled");
            await Assert.ThrowsAnyAsync<Exception>(() => publish);
        }
    }

    /// <summary>An admission whose fetch never ends until it is cancelled.</summary>
    private sealed class StalledAdmission : IPublishAdmission
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<bool> Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<AdmissionResult> AdmitAsync(PublishCandidate candidate, CancellationToken cancellationToken)
        {
            Entered.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                Cancelled.TrySetResult(true);
                throw;
            }

            return AdmissionResult.Accept;
        }
    }

    private sealed class CountingAdmission : IPublishAdmission
    {
        public int Calls;

        public Task<AdmissionResult> AdmitAsync(PublishCandidate candidate, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Calls);
            return Task.FromResult(AdmissionResult.Accept);
        }
    }

    [Fact]
    public async Task Ownership_and_immutability_are_decided_before_admission_so_a_refused_publish_fetches_nothing()
    {
        var admission = new CountingAdmission();
        var (server, http) = await StartAsync(admission);
        await using (server)
        using (http)
        {
            using var alice = SigningKey.CreateEphemeral("alice");
            using var mallory = SigningKey.CreateEphemeral("mallory");
            var first = ModelRegistryTests.Envelope(alice, "owned", "1.0.0");
            Assert.Equal(HttpStatusCode.Created, (await Post(http, first)).StatusCode);
            Assert.Equal(1, admission.Calls);

            using var notOwner = await Post(http, ModelRegistryTests.Envelope(mallory, "owned", "2.0.0"));
            Assert.Equal(HttpStatusCode.Forbidden, notOwner.StatusCode);
            using var existing = await Post(http, ModelRegistryTests.Envelope(alice, "owned", "1.0.0", image: 'b'));
            Assert.Equal(HttpStatusCode.Conflict, existing.StatusCode);
            using var again = await Post(http, first);
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
            Assert.Equal(1, admission.Calls);
        }
    }
}
