using System.Globalization;
using System.Reflection;
using InfraMind.Registry.Http;
using InfraMind.Serving;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace InfraMind.Registry.Tests.Http;

/// <summary>
/// <see cref="ServerLimits"/> is mapped onto Kestrel in two places, since the registry does not reference InfraMind.Serving:
/// <c>ServerOptions.Limit</c> (the gateway, its gRPC ingress, the nodes) and <c>RegistryServer.Limit</c>. Both set the same
/// Kestrel options from the same values, every value reaches Kestrel in both, and the defaults differ from ASP.NET Core's
/// only where docs/operations.md says they do (so a new ASP.NET Core whose defaults moved is noticed here).
/// ConnectionLimitsTests (Mesh.Tests) shows what the limits do on the running servers.
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

    private static readonly Action<KestrelServerOptions, ServerLimits> Serving = ServerOptions.Limit;

    private static readonly Action<KestrelServerOptions, ServerLimits> Registry = RegistryServer.Limit;

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
    public void The_registry_and_the_other_servers_set_the_same_kestrel_limits_from_the_same_values()
    {
        var changed = new ServerLimits();
        foreach (var p in Properties()) p.SetValue(changed, Other(p.GetValue(changed)!));
        Assert.Empty(changed.Validate());
        Assert.Equal(Effective(Serving, changed), Effective(Registry, changed));
        Assert.Equal(Effective(Serving, ServerLimits.Default), Effective(Registry, ServerLimits.Default));
    }

    [Fact]
    public void Every_value_of_server_limits_reaches_kestrel_in_both_mappings()
    {
        foreach (var p in Properties())
        {
            var one = new ServerLimits();
            p.SetValue(one, Other(p.GetValue(one)!));
            foreach (var (name, limit) in new[] { ("ServerOptions.Limit", Serving), ("RegistryServer.Limit", Registry) })
                Assert.True(!Effective(limit, ServerLimits.Default).SequenceEqual(Effective(limit, one)), $"{name} ignores ServerLimits.{p.Name}");
        }
    }

    [Fact]
    public void The_defaults_are_kestrels_but_for_the_connection_caps()
    {
        var kestrel = Snapshot(new KestrelServerOptions());
        var ours = Effective(Serving, ServerLimits.Default);
        var differ = ours.Where(kv => kestrel[kv.Key] != kv.Value).ToDictionary(kv => kv.Key, kv => (Kestrel: kestrel[kv.Key], Ours: kv.Value));
        Assert.Equal(
            new Dictionary<string, (string, string)>
            {
                ["MaxConcurrentConnections"] = ("null", "4096"),
                ["MaxConcurrentUpgradedConnections"] = ("null", "0"),
            },
            differ);
    }

    [Fact]
    public void Limits_kestrel_would_refuse_are_refused_first_with_what_they_must_be()
    {
        Assert.Empty(ServerLimits.Default.Validate());
        Assert.Equal(["the most connections must be between 1 and 1000000 (got 0)"], (ServerLimits.Default with { MaxConnections = 0 }).Validate());
        Assert.Equal(["the HTTP/2 windows must be at least 64 KiB, a stream's at most the connection's"],
            (ServerLimits.Default with { Http2InitialStreamWindowSize = 2 << 20 }).Validate());
        Assert.Equal(["the minimum data rates must be positive, their grace period more than 1 s (Kestrel checks them once a second)"],
            (ServerLimits.Default with { MinDataRateGrace = TimeSpan.FromSeconds(1) }).Validate());
        var e = Assert.Throws<ArgumentException>(() => ServerOptions.Limit(new KestrelServerOptions(), ServerLimits.Default with { RequestHeadersTimeout = TimeSpan.Zero }));
        Assert.StartsWith("the request headers and keep-alive timeouts must be positive", e.Message, StringComparison.Ordinal);
    }
}
