using System.Globalization;
using System.Reflection;
using InfraMind.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace InfraMind.Registry.Tests.Http;

/// <summary>
/// <see cref="ServerLimits"/> is mapped onto Kestrel in one place, <see cref="ServerOptions.Limit"/> (InfraMind.Hosting),
/// for every server: the gateway, its gRPC ingress, the nodes and the registry (here, the registry's test project, because
/// it was the server with a mapping of its own until InfraMind.Hosting). Every value reaches Kestrel but the two connection
/// caps, a connection middleware of ours (ConnectionCaps: Kestrel has no per-address cap and logs every connection its
/// own cap refuses, so Kestrel's is left off); the defaults differ from ASP.NET Core's only where docs/operations.md
/// says they do (so a new ASP.NET Core whose defaults moved is noticed here). ConnectionLimitsTests (Mesh.Tests) shows
/// what the limits do on the running servers.
/// </summary>
public sealed class ServerLimitsMappingTests
{
    /// <summary>Every Kestrel limit, by name, as text (a data rate as bytes per second and grace period).</summary>
    private static Dictionary<string, string> Effective(Action<KestrelServerOptions, ServerLimits> limit, ServerLimits limits)
    {
        var kestrel = new KestrelServerOptions();
        limit(kestrel, limits);
        return Snapshot(kestrel);
    }

    private static Dictionary<string, string> Snapshot(KestrelServerOptions kestrel)
    {
        var values = new Dictionary<string, string>();
        void Add(string prefix, object target)
        {
            foreach (var p in target.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                var value = p.GetValue(target);
                if (value is Http2Limits or Http3Limits) Add(p.Name + ".", value);
                else values[prefix + p.Name] = value switch
                {
                    null => "null",
                    MinDataRate rate => $"{rate.BytesPerSecond}/{rate.GracePeriod}",
                    _ => Convert.ToString(value, CultureInfo.InvariantCulture)!,
                };
            }
        }

        Add("", kestrel.Limits);
        return values;
    }

    private static readonly Action<KestrelServerOptions, ServerLimits> Serving = (kestrel, limits) => ServerOptions.Limit(kestrel, new ConnectionCaps(limits));

    /// <summary>Enforced by <c>ConnectionCaps</c>, a connection middleware, not by Kestrel's options (ConnectionCapsTests, ConnectionLimitsTests).</summary>
    private static readonly string[] NotKestrels = [nameof(ServerLimits.MaxConnections), nameof(ServerLimits.MaxConnectionsPerAddress)];

    /// <summary>A value of each ServerLimits property's type other than <paramref name="value"/>, and one Kestrel takes.</summary>
    private static object Other(object value) => value switch
    {
        int i => i + 1,
        long l => l + 1,
        double d => d + 1,
        TimeSpan t => t + TimeSpan.FromSeconds(1),
        _ => throw new InvalidOperationException($"ServerLimits has a property of type {value.GetType()}: say here how to change it"),
    };

    private static IEnumerable<PropertyInfo> Properties() =>
        typeof(ServerLimits).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite);

    [Fact]
    public void Every_value_of_server_limits_but_the_per_address_cap_reaches_kestrel()
    {
        var checkedProperties = 0;
        foreach (var p in Properties().Where(p => !NotKestrels.Contains(p.Name)))
        {
            var one = new ServerLimits();
            p.SetValue(one, Other(p.GetValue(one)!));
            Assert.True(!Effective(Serving, ServerLimits.Default).SequenceEqual(Effective(Serving, one)), $"ServerOptions.Limit ignores ServerLimits.{p.Name}");
            checkedProperties++;
        }

        Assert.True(checkedProperties >= 17, $"only {checkedProperties} limits checked");
    }

    [Fact]
    public void The_defaults_are_kestrels_but_for_upgraded_connections()
    {
        var kestrel = Snapshot(new KestrelServerOptions());
        var ours = Effective(Serving, ServerLimits.Default);
        var differ = ours.Where(kv => kestrel[kv.Key] != kv.Value).ToDictionary(kv => kv.Key, kv => (Kestrel: kestrel[kv.Key], Ours: kv.Value));
        Assert.Equal(
            new Dictionary<string, (string, string)>
            {
                ["MaxConcurrentUpgradedConnections"] = ("null", "0"),
            },
            differ);
    }

    [Fact]
    public void Limits_kestrel_would_refuse_are_refused_first_with_what_they_must_be()
    {
        Assert.Empty(ServerLimits.Default.Validate());
        Assert.Equal(["the most connections must be between 1 and 1000000 (got 0)"], (ServerLimits.Default with { MaxConnections = 0 }).Validate());
        Assert.Equal(["the most connections from one address must be between 1 and 1000000 (got 0)"], (ServerLimits.Default with { MaxConnectionsPerAddress = 0 }).Validate());
        Assert.Equal(["the HTTP/2 windows must be at least 64 KiB, a stream's at most the connection's"],
            (ServerLimits.Default with { Http2InitialStreamWindowSize = 2 << 20 }).Validate());
        Assert.Equal(["the minimum data rates must be positive, their grace period more than 1 s (Kestrel checks them once a second)"],
            (ServerLimits.Default with { MinDataRateGrace = TimeSpan.FromSeconds(1) }).Validate());
        var e = Assert.Throws<ArgumentException>(() => new ConnectionCaps(ServerLimits.Default with { RequestHeadersTimeout = TimeSpan.Zero }));
        Assert.StartsWith("the request headers and keep-alive timeouts must be positive", e.Message, StringComparison.Ordinal);
    }
}
