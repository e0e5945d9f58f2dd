using System.Collections.Concurrent;
using System.Net;
using System.Text;
using InfraMind.Storage.Registry;
using InfraMind.Testing;

namespace InfraMind.Storage.Tests.Registry;

/// <summary>
/// Registry credentials go only to the registry they are for (#13 §2): a Bearer realm on another port or host, or over
/// plain http off loopback, never receives them, nor does a registry they are not for. In-test listeners record every
/// Authorization header they are sent.
/// </summary>
public sealed class CredentialScopeTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-cred-scope");

    public void Dispose() => _dir.Dispose();

    private static string Basic(string user, string password) => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));

    /// <summary>A registry whose Bearer challenge names <paramref name="realm"/>, answering 404 to an authorised manifest request.</summary>
    private static ListenerServer Registry(Func<string> realm, ConcurrentBag<string> seen) => new((context, _) =>
    {
        var auth = context.Request.Headers["Authorization"] ?? "";
        seen.Add(auth);
        var r = context.Response;
        if (auth != "Bearer granted")
        {
            r.AddHeader("WWW-Authenticate", $"Bearer realm=\"{realm()}\",service=\"test\"");
            r.StatusCode = 401;
        }
        else
        {
            r.StatusCode = context.Request.Url!.AbsolutePath == "/v2/" ? 200 : 404;
        }

        r.Close();
        return Task.CompletedTask;
    });

    /// <summary>A token service that records what it is sent and grants a token to anyone, or only to callers with credentials.</summary>
    private static ListenerServer TokenService(bool anonymous, ConcurrentBag<string> seen) => new(async (context, ct) =>
    {
        var auth = context.Request.Headers["Authorization"] ?? "";
        seen.Add(auth);
        var grant = anonymous || auth.StartsWith("Basic ", StringComparison.Ordinal);
        context.Response.StatusCode = grant ? 200 : 401;
        await context.Response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes(grant ? "{\"token\":\"granted\"}" : "{}"), ct);
        context.Response.Close();
    });

    private Task<ImageArchive> PullAsync(int registryPort, PeerOptions options) =>
        new RegistryBackend(options).PullAsync(ContentReference.Parse($"oci://127.0.0.1:{registryPort}/team/model:1"), new LocalContentStore(_dir.Combine(Guid.NewGuid().ToString("N"))), null, CancellationToken.None);

    /// <summary>
    /// A registry that redirects a manifest or blob to another origin (a CDN, as large registries do; or a host that
    /// would collect credentials): a user's own pull follows it (<see cref="FetchPolicy.Unrestricted"/>) but sends the
    /// other origin no Authorization header; a redirect within the registry's own origin keeps it.
    /// </summary>
    [Fact]
    public async Task A_redirect_to_another_origin_is_followed_without_the_credentials_and_one_within_the_origin_keeps_them()
    {
        ConcurrentBag<string> atRegistry = [], elsewhere = [];
        var basic = Basic("u", "s3cret");
        await using var other = new ListenerServer((context, _) =>
        {
            elsewhere.Add(context.Request.Headers["Authorization"] ?? "");
            context.Response.StatusCode = 404;
            context.Response.Close();
            return Task.CompletedTask;
        });
        await using var registry = new ListenerServer((context, _) =>
        {
            var auth = context.Request.Headers["Authorization"] ?? "";
            var path = context.Request.Url!.AbsolutePath;
            atRegistry.Add($"{path} {auth}");
            var r = context.Response;
            if (auth != basic)
            {
                r.AddHeader("WWW-Authenticate", "Basic realm=\"test\"");
                r.StatusCode = 401;
            }
            else if (path == "/v2/")
            {
                r.StatusCode = 200;
            }
            else
            {
                // The tag first moves within the registry, then to the other origin.
                r.StatusCode = 302;
                r.RedirectLocation = path == "/v2/team/model/manifests/1" ? "/v2/team/model/manifests/moved" : $"http://127.0.0.1:{other.Port}{path}";
            }

            r.Close();
            return Task.CompletedTask;
        });
        var options = new PeerOptions { Credentials = new RegistryCredentials("u", "s3cret", [$"127.0.0.1:{registry.Port}"]) };

        var e = await Assert.ThrowsAsync<StorageException>(() => PullAsync(registry.Port, options));
        Assert.Equal(StorageErrorCodes.NotFound, e.Code); // followed to the other origin, which has nothing
        Assert.Contains($"/v2/team/model/manifests/moved {basic}", atRegistry);
        Assert.NotEmpty(elsewhere);
        Assert.All(elsewhere, a => Assert.Equal("", a));
    }

    [Fact]
    public async Task A_token_realm_on_another_port_gets_no_credentials()
    {
        ConcurrentBag<string> atRegistry = [], atToken = [];
        await using var token = TokenService(anonymous: true, atToken);
        await using var registry = Registry(() => $"http://127.0.0.1:{token.Port}/token", atRegistry);
        var options = new PeerOptions { Credentials = new RegistryCredentials("u", "s3cret", [$"127.0.0.1:{registry.Port}"]) };

        var e = await Assert.ThrowsAsync<StorageException>(() => PullAsync(registry.Port, options));
        Assert.Equal(StorageErrorCodes.NotFound, e.Code); // past authentication, with the anonymous token
        Assert.NotEmpty(atToken);
        Assert.All(atToken, a => Assert.Equal("", a));
        Assert.DoesNotContain(atRegistry, a => a.StartsWith("Basic ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_token_realm_on_another_port_that_wants_credentials_is_IM4215_and_still_gets_none()
    {
        ConcurrentBag<string> atRegistry = [], atToken = [];
        await using var token = TokenService(anonymous: false, atToken);
        await using var registry = Registry(() => $"http://127.0.0.1:{token.Port}/token", atRegistry);
        var options = new PeerOptions { Credentials = new RegistryCredentials("u", "s3cret", [$"127.0.0.1:{registry.Port}"]) };

        var e = await Assert.ThrowsAsync<StorageException>(() => PullAsync(registry.Port, options));
        Assert.Equal(StorageErrorCodes.CredentialsWithheld, e.Code);
        Assert.Contains($"127.0.0.1:{token.Port}", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", e.Message, StringComparison.Ordinal);
        Assert.NotEmpty(atToken); // it was asked, anonymously, and refused: that is how the client knows it wants credentials
        Assert.All(atToken, a => Assert.Equal("", a));
    }

    [Fact]
    public async Task A_realm_on_the_registrys_own_host_and_port_gets_them()
    {
        ConcurrentBag<string> seen = [];
        ListenerServer? registry = null;
        registry = new ListenerServer(async (context, ct) =>
        {
            var auth = context.Request.Headers["Authorization"] ?? "";
            seen.Add(auth);
            var r = context.Response;
            if (context.Request.Url!.AbsolutePath == "/token")
            {
                await r.OutputStream.WriteAsync(Encoding.UTF8.GetBytes("{\"token\":\"granted\"}"), ct);
            }
            else if (auth != "Bearer granted")
            {
                r.AddHeader("WWW-Authenticate", $"Bearer realm=\"http://127.0.0.1:{registry!.Port}/token\"");
                r.StatusCode = 401;
            }
            else
            {
                r.StatusCode = context.Request.Url.AbsolutePath == "/v2/" ? 200 : 404;
            }

            r.Close();
        });
        await using (registry)
        {
            var options = new PeerOptions { Credentials = new RegistryCredentials("u", "s3cret", [$"127.0.0.1:{registry.Port}"]) };
            Assert.Equal(StorageErrorCodes.NotFound, (await Assert.ThrowsAsync<StorageException>(() => PullAsync(registry.Port, options))).Code);
            Assert.Contains(Basic("u", "s3cret"), seen);
        }
    }

    [Fact]
    public async Task A_realm_over_plain_http_off_loopback_gets_no_credentials_even_on_the_configured_host()
    {
        ConcurrentBag<string> atRegistry = [], atToken = [];
        // Answers any Host (HttpListener would refuse auth.example.test).
        await using var token = new RawHttpServer(r =>
        {
            atToken.Add(r.Header("Authorization"));
            return (200, null, "{\"token\":\"granted\"}"u8.ToArray());
        });
        await using var registry = Registry(() => $"http://auth.example.test:{token.Port}/token", atRegistry);
        // The token host's name resolves to this machine for the test; the URL says plain http to a host that is not loopback.
        var policy = FetchPolicy.Unrestricted with { ResolveHost = (_, _) => Task.FromResult(new[] { IPAddress.Loopback }) };
        var options = new PeerOptions
        {
            Policy = policy,
            Credentials = new RegistryCredentials("u", "s3cret", [$"127.0.0.1:{registry.Port}", $"auth.example.test:{token.Port}"]),
        };

        Assert.Equal(StorageErrorCodes.NotFound, (await Assert.ThrowsAsync<StorageException>(() => PullAsync(registry.Port, options))).Code);
        Assert.NotEmpty(atToken);
        Assert.All(atToken, a => Assert.Equal("", a));
    }

    [Fact]
    public async Task A_basic_challenge_from_a_registry_the_credentials_are_not_for_gets_none()
    {
        ConcurrentBag<string> seen = [];
        await using var registry = new ListenerServer((context, _) =>
        {
            seen.Add(context.Request.Headers["Authorization"] ?? "");
            context.Response.AddHeader("WWW-Authenticate", "Basic realm=\"x\"");
            context.Response.StatusCode = 401;
            context.Response.Close();
            return Task.CompletedTask;
        });
        var options = new PeerOptions { Credentials = new RegistryCredentials("u", "s3cret", ["registry.example.test"]) };
        var e = await Assert.ThrowsAsync<StorageException>(() => PullAsync(registry.Port, options));
        Assert.Equal(StorageErrorCodes.CredentialsWithheld, e.Code);
        Assert.All(seen, a => Assert.Equal("", a));
    }
}
