using System.Net;
using InfraMind.Gateway.Inference;
using InfraMind.Serving;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// The requests a gateway takes at once (<see cref="InferenceAdmission"/>), in process: all of them and per client
/// address, what a refusal says, and that no refusal keeps a place. InFlightLimitTests hold the same over sockets.
/// </summary>
public sealed class InferenceAdmissionTests
{
    private static readonly IPAddress A = IPAddress.Parse("192.0.2.1");
    private static readonly IPAddress B = IPAddress.Parse("192.0.2.2");

    [Fact]
    public void A_refusal_for_one_address_gives_back_the_gateways_place_it_took()
    {
        using var admission = new InferenceAdmission(total: 2, perAddress: 1);
        Assert.Null(admission.TryEnter(A, out var first));
        // A hundred refusals of A's second request: each took a place of the gateway's first, and must give it back.
        for (var i = 0; i < 100; i++)
        {
            var refused = admission.TryEnter(A, out var none);
            Assert.Equal((429, MeshErrorCodes.TooManyFromAddress.Value, true), (refused!.Status, refused.Code.Value, refused.RetryAfter));
            none.Dispose();
        }

        Assert.Equal(1, admission.InFlight);
        Assert.Null(admission.TryEnter(B, out var second));
        Assert.Equal(2, admission.InFlight);
        first.Dispose();
        second.Dispose();
        Assert.Equal(0, admission.InFlight);
    }

    [Fact]
    public void When_the_gateway_is_full_everyone_is_told_it_is_busy_and_a_finished_request_frees_its_places()
    {
        using var admission = new InferenceAdmission(total: 2, perAddress: 2);
        Assert.Null(admission.TryEnter(A, out var first));
        Assert.Null(admission.TryEnter(A, out var second));
        var busy = admission.TryEnter(B, out _);
        Assert.Equal((503, MeshErrorCodes.GatewayBusy.Value, "gateway busy", true), (busy!.Status, busy.Code.Value, busy.Title, busy.RetryAfter));
        Assert.Equal("the gateway has 2 requests in flight, as many as it takes at once; retry after the Retry-After seconds, or at another gateway.", busy.Detail);

        // A's first ends: its place at the gateway and its address's place are both free again.
        first.Dispose();
        Assert.Equal(1, admission.InFlight);
        Assert.Null(admission.TryEnter(A, out var third));
        second.Dispose();
        third.Dispose();
        Assert.Equal(0, admission.InFlight);
        default(InferenceAdmission.Slot).Dispose(); // a refusal's slot holds nothing
    }

    [Fact]
    public void An_address_is_held_to_its_share_counted_by_its_group_and_the_refusal_names_it()
    {
        using var admission = new InferenceAdmission(total: 8, perAddress: 1);
        Assert.Equal((8, 1), (admission.Limit, admission.PerAddressLimit));
        Assert.Null(admission.TryEnter(IPAddress.Parse("2001:db8:1:2::1"), out var v6));
        // Another address in the same /64 is the same client; one in another /64 is not.
        var refused = admission.TryEnter(IPAddress.Parse("2001:db8:1:2:ffff::9"), out _);
        Assert.Equal("1 requests from 2001:db8:1:2::/64 are in flight at this gateway, as many as it takes from one address; retry after the Retry-After seconds, or send fewer at once.", refused!.Detail);
        Assert.Equal("too many requests in flight", refused.Title);
        Assert.Null(admission.TryEnter(IPAddress.Parse("2001:db8:1:3::1"), out var other));
        // An IPv4 address and its IPv4-mapped IPv6 form are one client.
        Assert.Null(admission.TryEnter(A, out var v4));
        Assert.Equal(429, admission.TryEnter(A.MapToIPv6(), out _)!.Status);
        foreach (var slot in new[] { v6, other, v4 }) slot.Dispose();
        Assert.Equal(0, admission.InFlight);
    }

    [Fact]
    public void An_address_share_above_the_gateways_limit_is_the_gateways_limit()
    {
        using var admission = new InferenceAdmission(total: 3, perAddress: 10);
        Assert.Equal(3, admission.PerAddressLimit);
    }
}
