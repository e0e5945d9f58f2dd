using System.Globalization;
using System.Net.Http.Headers;

namespace InfraMind;

/// <summary>
/// Retry-After as every InfraMind server writes it (the registry's, the gateway's and the nodes' refusals) and a
/// gateway reads a node's: delta-seconds only (RFC 9110 §10.2.3), never an HTTP date, whose meaning depends on two
/// clocks agreeing.
/// </summary>
public static class RetryAfterHeader
{
    /// <summary>
    /// <paramref name="wait"/> as the header's value: whole seconds, rounded up, at least 1 (a 0 would tell a client
    /// to come straight back, which is what a refusal with Retry-After is meant to stop).
    /// </summary>
    public static string Format(TimeSpan wait) => Math.Max(1L, (long)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The wait a peer's Retry-After says: delta-seconds of at least 1; null for none, an HTTP date, 0 or what does not
    /// parse. The caller bounds it: a peer's word alone never decides how long something waits.
    /// </summary>
    public static TimeSpan? Read(RetryConditionHeaderValue? value) => value?.Delta is { } delta && delta >= TimeSpan.FromSeconds(1) ? delta : null;
}
