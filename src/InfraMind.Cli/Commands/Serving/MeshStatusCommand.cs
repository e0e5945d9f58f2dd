using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using InfraMind.Serving;
using InfraMind.Serving.Tls;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace InfraMind.Cli.Commands.Serving;

/// <summary>
/// `infra mesh status`: a gateway's view of its mesh (GET /inference/v1, the document the dashboard reads too) as
/// tables, as JSON, or refreshed until Ctrl-C.
/// </summary>
internal static class MeshStatusCommand
{
    /// <summary>
    /// The most of a gateway's answer read, inflated (the gateway gzips its state for a client that accepts it, and a
    /// --gateway that is not one may send a gzip bomb): a mesh of 256 nodes and its models fits many times over.
    /// </summary>
    internal const int MaxStateBytes = 16 << 20;

    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    public static Command Create(CliContext context)
    {
        var gateway = new Option<string?>("--gateway")
        {
            Description = "The gateway's URL, with #sha256:HEX after an https URL to pin the gateway's self-signed TLS key (IM6046 when it presents another) " +
                          "(default: the one `infra mesh up` or `infra gateway serve` announced in $INFRAMIND_HOME, pin included, else http://127.0.0.1:8080/)",
            HelpName = "URL",
        };
        gateway.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is not { } url) return;
            if (!IsHttpUrl(url)) r.AddError($"--gateway '{url}' is not an http:// or https:// URL");
            else if (!TlsPins.TrySplit(new Uri(url), out _, out _, out var error)) r.AddError($"--gateway {error}");
        });
        var json = new Option<bool>("--json") { Description = "Print the gateway's state document as JSON (one compact line per refresh with --watch)" };
        var watch = new Option<bool>("--watch") { Description = "Refresh until Ctrl-C" };
        var interval = new Option<double>("--interval") { Description = "Seconds between refreshes with --watch (0.5-3600)", DefaultValueFactory = _ => 2, HelpName = "SECONDS" };
        interval.Require(v => v is >= 0.5 and <= 3600, "--interval must be between 0.5 and 3600 seconds");
        var filter = new Option<string?>("--filter")
        {
            Description = "Show only the models and the nodes whose name contains TEXT, in any case (as the dashboard's filter; the gateway is asked for only those, " +
                          "so a mesh too large to read whole is read a model at a time); with --json, the document holds only those",
            HelpName = "TEXT",
        };
        var status = new Command("status",
            "Show the mesh as its gateway sees it: nodes (online, address, last heartbeat, capacity, reputation, refusals) and models " +
            "(versions, quarantine with its verdict, each placed node's state, verdict, restarts, suspension, failures and latency).\n" +
            "Exit codes: 0 shown (with --watch: stopped by Ctrl-C), 2 usage error, 4 the gateway did not answer or its answer is not its state (IM6024).")
        {
            gateway, json, watch, interval, filter,
        };
        status.SetAction(async (parse, cancellationToken) =>
        {
            var (url, pin) = TlsPins.Split(parse.GetValue(gateway) is { } given ? new Uri(given) : GatewayAnnouncement.Read(context.Home) ?? new Uri("http://127.0.0.1:8080/"));
            if (!url.AbsolutePath.EndsWith('/')) url = new UriBuilder(url) { Path = url.AbsolutePath + "/" }.Uri;
            using var http = new HttpClient(TlsPins.Handler(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.GZip }, pin, "the gateway",
                "pass the fingerprint the gateway's --json prints as tlsFingerprint (#sha256:HEX); if it changed, someone else may answer at that address"))
            {
                Timeout = RequestTimeout,
            };
            var asJson = parse.GetValue(json);
            var only = parse.GetValue(filter) is { Length: > 0 } text ? text : null;
            if (!parse.GetValue(watch))
            {
                var state = Filter(await ReadAsync(http, url, cancellationToken, only), only);
                if (asJson) CliJson.Write(context.Output, state);
                else context.Console.Write(Render(state, url));
                return ExitCodes.Ok;
            }

            var every = TimeSpan.FromSeconds(parse.GetValue(interval));
            try
            {
                while (true)
                {
                    var state = Filter(await ReadAsync(http, url, cancellationToken, only), only);
                    if (asJson)
                    {
                        await context.Output.WriteLineAsync(state.ToJsonString());
                        await context.Output.FlushAsync(cancellationToken);
                    }
                    else
                    {
                        context.Console.Clear(home: true);
                        context.Console.Write(Render(state, url));
                    }

                    await Task.Delay(every, cancellationToken);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return ExitCodes.Ok;
            }
        });
        return status;
    }

    private static bool IsHttpUrl(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    /// <summary>
    /// The gateway's state, read against <see cref="MaxStateBytes"/>; anything else is IM6024 naming what went wrong.
    /// With <paramref name="filter"/>, the gateway is asked for only what it keeps (<c>?filter=</c>), so a mesh whose
    /// whole document is past the bound can still be looked at a model at a time.
    /// </summary>
    internal static async Task<JsonObject> ReadAsync(HttpClient http, Uri gateway, CancellationToken ct, string? filter = null)
    {
        var where = new Uri(gateway, "inference/v1" + (string.IsNullOrEmpty(filter) ? "" : $"?{StateFilter.Parameter}={Uri.EscapeDataString(filter)}"));
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, where);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            if (!response.IsSuccessStatusCode)
                throw Unreachable(where, $"it answered {(int)response.StatusCode} {response.ReasonPhrase}");
            await using var body = await response.Content.ReadAsStreamAsync(ct);
            var bytes = await BoundedBody.ReadAsync(body, null, MaxStateBytes, ct)
                ?? throw Unreachable(where, $"its answer is larger than {MaxStateBytes >> 20} MiB" +
                    (string.IsNullOrEmpty(filter) ? " (pass --filter TEXT to read only the models and nodes whose name contains TEXT)" : ""));
            var state = JsonNode.Parse(bytes) as JsonObject;
            if (state?["nodes"] is not JsonArray || state["models"] is not JsonArray) throw Unreachable(where, "its answer is not a mesh state (no nodes and models)");
            return state;
        }
        catch (HttpRequestException e)
        {
            throw Unreachable(where, NetworkFailure.Describe(e));
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw Unreachable(where, $"no answer within {RequestTimeout.TotalSeconds:0} s", e);
        }
        catch (JsonException e)
        {
            throw Unreachable(where, $"its answer is not JSON: {e.Message}");
        }
    }

    /// <summary>
    /// The state with only the models and nodes <see cref="StateFilter"/> keeps for <paramref name="text"/> (a gateway
    /// that knows <c>?filter=</c> sent only those already; an older one sent everything). Null: the state as it is.
    /// </summary>
    internal static JsonObject Filter(JsonObject state, string? text)
    {
        if (text is null) return state;
        foreach (var (array, name) in new[] { ("models", "name"), ("nodes", "id") })
        {
            // Kept, cleared (which frees them from the array) and put back: one pass, where removing in place would
            // shift the array once per removal.
            var list = state[array]!.AsArray();
            var kept = list.Where(e => StateFilter.Keeps(text, Str((e as JsonObject)?[name]))).ToList();
            list.Clear();
            foreach (var e in kept) list.Add(e);
        }

        return state;
    }

    private static InfraMindException Unreachable(Uri where, string why, Exception? inner = null) =>
        new(MeshErrorCodes.GatewayUnreachable, $"the gateway's state at {where} could not be read: {why}", innerException: inner);

    internal static IRenderable Render(JsonObject state, Uri gateway)
    {
        var at = Time(state["at"]);
        var nodes = new Table().Title($"nodes of {ConsoleText.Escape(gateway.ToString())}").AddColumns("node", "online", "address", "last heartbeat", "capacity", "reputation", "refused");
        foreach (var n in state["nodes"]!.AsArray().OfType<JsonObject>())
        {
            var capacity = n["capacity"] as JsonObject;
            var refused = n["refused"] as JsonArray;
            nodes.AddRow(
                Text(n["id"]),
                Flag(n["online"]) ? "[green]online[/]" : "[red]offline[/]",
                Text(n["address"]),
                Age(Time(n["lastHeartbeat"]), at),
                capacity is null ? "" : $"{Text(capacity["cpuMillicores"])}m CPU, {ConsoleText.Escape(Quantity(capacity["memoryBytes"]))}, {Text(capacity["gpuCount"])} GPU",
                Number(n["reputation"], "0.00"),
                refused is { Count: > 0 } ? string.Join("; ", refused.OfType<JsonObject>().Select(r => $"{Text(r["model"])}: {Text(r["reason"])}")) : "");
        }

        var models = new Table().Title("models").AddColumns("model", "quarantine", "node", "state", "verdict", "restarts", "suspended", "failures", "latency");
        foreach (var m in state["models"]!.AsArray().OfType<JsonObject>())
        foreach (var v in (m["versions"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var key = $"{Text(m["name"])}@{Text(v["version"])}{(Str(m["latest"]) is { } latest && latest == Str(v["version"]) ? " (latest)" : "")}";
            var quarantine = v["quarantine"] is JsonObject q ? $"[red]{Text(q["verdict"])}[/]" : "";
            var placed = (v["nodes"] as JsonArray ?? []).OfType<JsonObject>().ToList();
            if (placed.Count == 0) models.AddRow(key, quarantine, "[grey]none placed[/]", "", "", "", "", "", "");
            foreach (var p in placed)
            {
                var suspended = Flag(p["suspended"]) ? $"[yellow]until {ConsoleText.Escape(Time(p["suspendedUntil"])?.ToString("HH:mm:ss", CultureInfo.InvariantCulture) ?? "?")}[/]" : "";
                models.AddRow(key, quarantine, Text(p["node"]) + (Flag(p["online"]) ? "" : " [red](offline)[/]"), State(Str(p["state"])), Text(p["verdict"]),
                    Text(p["restarts"]), suspended, $"{Text(p["failures"])}/{Total(p["failures"], p["successes"])}", p["latencyMs"] is null ? "" : Number(p["latencyMs"], "0.0") + " ms");
                key = "";
                quarantine = "";
            }
        }

        return new Rows(nodes, models);
    }

    private static string State(string? state) => state switch
    {
        "ready" => "[green]ready[/]",
        "failed" or "refused" => $"[red]{state}[/]",
        null => "",
        _ => $"[yellow]{ConsoleText.Escape(state)}[/]",
    };

    // A gateway's answer is read, never trusted to have each member's type: another type reads as nothing, where a
    // cast would throw (an internal error instead of a view).
    private static bool Flag(JsonNode? node) => node is JsonValue v && v.TryGetValue<bool>(out var b) && b;

    private static string? Str(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static long? Whole(JsonNode? node) => node is JsonValue v && v.TryGetValue<long>(out var l) ? l : null;

    private static string Total(JsonNode? a, JsonNode? b) =>
        Whole(a) is { } x && Whole(b) is { } y ? ((Int128)x + y).ToString(CultureInfo.InvariantCulture) : "";

    private static string Text(JsonNode? node) => node is null ? "" : ConsoleText.Escape(node is JsonValue v && v.TryGetValue<string>(out var s) ? s : node.ToJsonString());

    private static string Number(JsonNode? node, string format) =>
        node is JsonValue v && v.TryGetValue<double>(out var d) ? d.ToString(format, CultureInfo.InvariantCulture) : "";

    // A node offers what its machine has, rarely a whole number of MiB: exact (8Gi) when it is one, else rounded (23.54 GiB)
    // rather than the exact quantity a machine's memory comes to (24683748Ki).
    private static string Quantity(JsonNode? bytes) =>
        bytes is not JsonValue v || !v.TryGetValue<long>(out var b) ? "" : b % (1 << 20) == 0 ? Manifest.Quantity.FormatBytes(b) : ContentAccess.Bytes(b);

    private static DateTimeOffset? Time(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue<string>(out var s) && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var t) ? t : null;

    private static string Age(DateTimeOffset? then, DateTimeOffset? now) =>
        then is null ? "never" : now is null ? then.Value.ToString("HH:mm:ss", CultureInfo.InvariantCulture) : $"{Math.Max(0, (now.Value - then.Value).TotalSeconds):0.0} s ago";
}
