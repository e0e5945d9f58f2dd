using System.Net;
using InfraMind.Gateway.Catalog;
using InfraMind.Testing;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// The operators' dashboard in a real browser: Debian's chromium, headless, driven by Microsoft.Playwright, against a
/// real gateway on Kestrel whose nodes are <see cref="FakeNode"/>s registering and heart-beating over real sockets. The
/// gateway's clock is a <see cref="FakeTimeProvider"/>, so a node goes offline when the test says, not after 90 s.
/// Screenshots are kept under .tmp/dashboard/.
/// </summary>
public sealed class DashboardTests : IAsyncLifetime
{
    private static readonly string Shots = Path.Combine(TestEngine.RepoRoot, ".tmp", "dashboard");
    private readonly InMemoryModelCatalog _catalog = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly List<FakeNode> _nodes = [];
    private GatewayHost _gateway = null!;
    private IPlaywright? _playwright;
    private IBrowser _browser = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Shots);
        _catalog.Publish(MeshStateTests.Served("1.0.0").Published);
        _gateway = await GatewayHost.StartAsync(new GatewayOptions(), _catalog, _time, null, CancellationToken.None);
        // 30 s: the page polls every 2 s, and a loaded machine's Chromium can miss a poll or two; a passing check ends at once.
        SetDefaultExpectTimeout(30_000);
    }

    /// <summary>Called first by each test, so a missing browser is the test's skip (or, under CI=true, its failure).</summary>
    private async Task LaunchAsync()
    {
        var executable = ChromiumPeer.Executable();
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = executable,
            Headless = true,
            Args = ChromiumPeer.Arguments,
        });
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null) await _browser.DisposeAsync();
        _playwright?.Dispose();
        foreach (var node in _nodes) await node.DisposeAsync();
        if (_gateway is not null) await _gateway.DisposeAsync();
    }

    private async Task<FakeNode> JoinAsync(string id, InfraMind.Signing.SigningKey? key = null)
    {
        var node = new FakeNode(_gateway.Url, null) { Key = key };
        _nodes.Add(node);
        using var r = await node.RegisterAsync(id);
        r.EnsureSuccessStatusCode();
        return node;
    }

    private async Task<IPage> OpenAsync(int width = 1280, int height = 900)
    {
        var page = await _browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = width, Height = height } });
        var response = await page.GotoAsync(_gateway.Url.ToString()); // `/` redirects to /dashboard
        Assert.NotNull(response);
        Assert.Equal(200, response.Status);
        Assert.EndsWith("/dashboard", page.Url, StringComparison.Ordinal);
        return page;
    }

    private static ILocator Node(IPage page, string id) => page.Locator($"#nodes tr[data-node=\"{id}\"]");

    private static ILocator Version(IPage page, string model, string version) =>
        page.Locator($"#models article[data-model=\"{model}\"] .version[data-version=\"{version}\"]");

    private static string FailedReport(string verdict) =>
        $$"""[{"name":"echo","version":"1.0.0","state":"failed","verdict":"{{verdict}}","detail":"pre-flight: the answer broke output_schema","preflightGeneration":1,"restarts":0,"failures":1,"since":"2026-01-01T00:00:00Z"}]""";

    [SkippableFact]
    public async Task The_page_shows_the_running_mesh_and_follows_it_without_a_reload()
    {
        await LaunchAsync();
        using var aKey = InfraMind.Signing.SigningKey.CreateEphemeral("node-a");
        var a = await JoinAsync("node-a", aKey);
        var b = await JoinAsync("node-b");
        var c = await JoinAsync("node-c");
        foreach (var (node, id) in new[] { (a, "node-a"), (b, "node-b"), (c, "node-c") }) await node.ReadyAsync(id);
        var page = await OpenAsync();

        // The running mesh: its three nodes online with their addresses and capacity, and echo 1.0.0 served.
        foreach (var (node, id) in new[] { (a, "node-a"), (b, "node-b"), (c, "node-c") })
        {
            await Expect(Node(page, id).Locator("[data-label=State]")).ToHaveTextAsync("online");
            await Expect(Node(page, id).Locator("[data-label=Address]")).ToHaveTextAsync(node.Address.ToString());
            await Expect(Node(page, id).Locator("[data-label=\"CPU requested / offered\"]")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(@"^[01] / 4$"));
        }

        await Expect(Version(page, "echo", "1.0.0")).ToContainTextAsync("serving");
        await Expect(Version(page, "echo", "1.0.0")).ToContainTextAsync("2 of 2 placed node(s) ready");
        await Expect(Version(page, "echo", "1.0.0").Locator(".traffic")).ToContainTextAsync("Last 5 min: ");
        await Expect(page.Locator("#summary")).ToContainTextAsync("3 of 3");
        // The browser accepts gzip, and the view it polls (three nodes and a version: over 1 KiB) comes gzipped.
        var polled = await page.WaitForResponseAsync(r => r.Url.EndsWith("/dashboard/state", StringComparison.Ordinal), new PageWaitForResponseOptions { Timeout = 10_000 });
        Assert.Equal("gzip", (await polled.AllHeadersAsync()).GetValueOrDefault("content-encoding"));
        await page.EvaluateAsync("() => { window.__sameDocument = true; }");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Shots, "mesh.png"), FullPage = true });

        // A model published now appears on the open page.
        var echo = MeshStateTests.Served("1.0.0").Published;
        _catalog.Publish(echo with { Name = "summarise" });
        await Expect(page.Locator("#models article[data-model=summarise] h3")).ToHaveTextAsync("summarise (latest 1.0.0)");

        // Two of the nodes echo 1.0.0 is placed on report its pre-flight failing with the same verdict: quarantined.
        using var http = new HttpClient { BaseAddress = _gateway.Url };
        var state = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync(new Uri("inference/v1", UriKind.Relative)))!;
        var byId = new Dictionary<string, FakeNode> { ["node-a"] = a, ["node-b"] = b, ["node-c"] = c };
        var onEcho = state["models"]!.AsArray().Single(m => (string?)m!["name"] == "echo")!["versions"]![0]!["nodes"]!.AsArray()
            .Select(n => (string)n!["node"]!).ToList();
        Assert.Equal(2, onEcho.Count);
        foreach (var id in onEcho)
        {
            var node = byId[id];
            using var r = await node.BeatAsync(id, FailedReport("output-schema-violation"), node.Credential);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        var quarantined = Version(page, "echo", "1.0.0");
        await Expect(quarantined).ToContainTextAsync("quarantined");
        await Expect(quarantined.Locator(".verdict")).ToHaveTextAsync("output-schema-violation");
        await Expect(page.Locator("#failures tbody tr[data-model=echo]")).ToHaveCountAsync(2);
        await Expect(page.Locator("#failures tbody tr[data-model=echo]").First.Locator("[data-label=Verdict]")).ToHaveTextAsync("output-schema-violation");

        // node-c stops heart-beating; the others go on. Past three missed beats (3 × 30 s) it shows offline.
        _time.Advance(TimeSpan.FromSeconds(91));
        foreach (var id in new[] { "node-a", "node-b" })
        {
            if (onEcho.Contains(id))
            {
                using var r = await byId[id].BeatAsync(id, FailedReport("output-schema-violation"), byId[id].Credential);
                r.EnsureSuccessStatusCode();
            }
            else
            {
                await byId[id].ReadyAsync(id);
            }
        }

        const string stopped = "node-c";
        // Offline since when the gateway found it so; its last job (none here: jobs went to the nodes echo is placed on, or none).
        await Expect(Node(page, stopped).Locator("[data-label=State]")).ToContainTextAsync("offline");
        await Expect(Node(page, stopped).Locator("[data-label=State] .since")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^ since [0-9]+ s ago$"));
        var stoppedState = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync(new Uri("inference/v1", UriKind.Relative)))!["nodes"]!.AsArray()
            .Single(n => (string?)n!["id"] == stopped)!;
        Assert.NotNull(stoppedState["offlineSince"]);
        if (stoppedState["lastJob"] is null) await Expect(Node(page, stopped).Locator("[data-label=\"Last job\"]")).ToHaveTextAsync("never");
        // The keys the gateway holds: node-a's signing key (bound to its id), none for the nodes that joined by token alone.
        await Expect(Node(page, "node-a").Locator("[data-label=Keys]")).ToContainTextAsync("signs " + aKey.PublicKey.Fingerprint[..15] + "…");
        await Expect(Node(page, "node-a").Locator("[data-label=Keys] .fingerprint")).ToHaveAttributeAsync("title", "signs " + aKey.PublicKey.Fingerprint);
        await Expect(Node(page, "node-b").Locator("[data-label=Keys]")).ToHaveTextAsync("none");
        await Expect(Node(page, "node-a").Locator("[data-label=State]")).ToHaveTextAsync("online");
        await Expect(Node(page, "node-b").Locator("[data-label=State]")).ToHaveTextAsync("online");
        await Expect(Node(page, stopped).Locator("[data-label=\"Last heartbeat\"]")).ToHaveTextAsync("91 s ago");
        await Expect(page.Locator("#summary")).ToContainTextAsync("2 of 3");

        // All of it without a reload: the document the test marked is still the one shown.
        Assert.True(await page.EvaluateAsync<bool>("() => window.__sameDocument === true"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Shots, "offline-quarantine.png"), FullPage = true });

        // On a phone's width the tables become labelled cards and nothing scrolls sideways.
        await page.SetViewportSizeAsync(390, 844);
        Assert.Equal("", await page.EvaluateAsync<string>(
            "() => [...document.querySelectorAll('body *')].filter(e => !e.closest('thead') && e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + '.' + e.className).join(' ')"));
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Shots, "phone.png"), FullPage = true });
    }

    [SkippableFact]
    public async Task A_large_catalog_is_drawn_a_hundred_models_at_a_time_and_the_filter_finds_the_rest()
    {
        await LaunchAsync();
        await JoinAsync("node-a");
        await JoinAsync("node-b");
        var echo = MeshStateTests.Served("1.0.0").Published;
        for (var i = 0; i < 120; i++) _catalog.Publish(echo with { Name = $"bulk-{i:D3}" });
        await WaitAsync(() => _gateway.Mesh.Models.Count == 121);
        var page = await OpenAsync();
        var cards = page.Locator("#models article");

        // 100 of the 121 drawn, in name order, with a line saying so; the summary counts all of them.
        await Expect(cards).ToHaveCountAsync(100);
        await Expect(cards.First).ToHaveAttributeAsync("data-model", "bulk-000");
        await Expect(page.Locator("#models-more")).ToHaveTextAsync(
            "Showing 100 of 121 models; narrow the filter to see others (infra mesh status --json lists them all).");
        await Expect(page.Locator("#summary")).ToContainTextAsync("Models121");
        await Expect(page.Locator("#filter-shown")).ToHaveTextAsync("");

        // The filter, any case: ten models, no line of more, the count of what matches, and the page's address.
        await page.Locator("#filter").FillAsync("BULK-11");
        await Expect(cards).ToHaveCountAsync(10);
        await Expect(cards.Last).ToHaveAttributeAsync("data-model", "bulk-119");
        await Expect(page.Locator("#models-more")).ToBeHiddenAsync();
        await Expect(page.Locator("#filter-shown")).ToHaveTextAsync("10 of 121 models, 0 of 2 nodes match");
        await Expect(page.Locator("#nodes-empty")).ToHaveTextAsync("No node's name contains \u201cBULK-11\u201d.");
        Assert.EndsWith("/dashboard?filter=BULK-11", page.Url, StringComparison.Ordinal);

        // It holds across polls (the page redraws every 2 s), and it finds nodes as well.
        var updated = await page.EvaluateAsync<string>("() => document.body.dataset.updated");
        await page.WaitForFunctionAsync("u => document.body.dataset.updated !== u", updated);
        await Expect(cards).ToHaveCountAsync(10);
        await page.Locator("#filter").FillAsync("node-b");
        await Expect(page.Locator("#nodes tbody tr")).ToHaveCountAsync(1);
        await Expect(Node(page, "node-b")).ToBeVisibleAsync();
        await Expect(page.Locator("#models-empty")).ToHaveTextAsync("No model's name contains \u201cnode-b\u201d.");

        // A reload (or a shared link) keeps the filter; emptied, the first hundred are back.
        await page.GotoAsync(new Uri(_gateway.Url, "dashboard?filter=bulk-00").ToString());
        await Expect(page.Locator("#filter")).ToHaveValueAsync("bulk-00");
        await Expect(cards).ToHaveCountAsync(10);
        await page.Locator("#filter").FillAsync("");
        await Expect(cards).ToHaveCountAsync(100);
        Assert.EndsWith("/dashboard", page.Url, StringComparison.Ordinal);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Shots, "large-catalog.png") });
    }

    [SkippableFact]
    public async Task Strangers_strings_are_text_the_page_fetches_nothing_else_and_is_keyboard_reachable_and_accessible()
    {
        await LaunchAsync();
        const string hostile = "<img src=x onerror=document.body.dataset.pwned=1>";
        const string hostileDetail = "<b id=injected>bold</b>";
        var a = await JoinAsync("node-a");
        _catalog.Publish(MeshStateTests.Served("1.0.0").Published with { Name = hostile });
        await WaitAsync(() => _gateway.Mesh.Models.Any(m => m.Published.Name == hostile));
        using (var r = await a.BeatAsync("node-a",
            $$"""[{"name":"{{hostile}}","version":"1.0.0","state":"failed","verdict":"init-failed","detail":"{{hostileDetail}}","preflightGeneration":1,"restarts":1,"failures":1,"since":"2026-01-01T00:00:00Z"}]""",
            a.Credential))
        {
            r.EnsureSuccessStatusCode();
        }

        var requests = new List<string>();
        var page = await _browser.NewPageAsync();
        page.Request += (_, request) => requests.Add(request.Url);
        var response = await page.GotoAsync(new Uri(_gateway.Url, "dashboard").ToString());
        Assert.NotNull(response);
        var csp = await response.HeaderValueAsync("content-security-policy");
        Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);

        // The name is shown as the characters it is: no element made of it, nothing run.
        await Expect(page.Locator("#models article h3").First).ToHaveTextAsync(hostile + " (latest 1.0.0)");
        await Expect(page.Locator("#failures tbody [data-label=Detail]")).ToHaveTextAsync(hostileDetail);
        await Expect(page.Locator("#failures tbody [data-label=Verdict]")).ToHaveTextAsync("init-failed");
        Assert.Equal(0, await page.Locator("img").CountAsync());
        Assert.Equal(0, await page.Locator("#injected").CountAsync());
        Assert.Null(await page.EvaluateAsync<string?>("() => document.body.dataset.pwned ?? null"));

        // Everything the page loaded came from the gateway itself: the page, its two assets and its view of the state.
        await page.WaitForFunctionAsync("() => Number(document.body.dataset.updated) > 0");
        var origin = _gateway.Url.GetLeftPart(UriPartial.Authority);
        Assert.All(requests, url => Assert.StartsWith(origin + "/", url, StringComparison.Ordinal));
        Assert.Contains(origin + "/dashboard/dashboard.js", requests);
        Assert.Contains(origin + "/dashboard/state", requests);

        // Keyboard: Tab reaches the skip link, the section links and each scrolling table, in that order.
        var focused = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            await page.Keyboard.PressAsync("Tab");
            focused.Add(await page.EvaluateAsync<string>("() => document.activeElement.getAttribute('aria-labelledby') ?? (document.activeElement.id || document.activeElement.textContent.trim())"));
        }

        Assert.Equal(["Skip to content", "Nodes", "Models", "Failures", "filter", "nodes-heading", "failures-heading"], focused);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Shots, "hostile-name.png"), FullPage = true });

        // axe-core from the local peer (tests/peers/axe), injected into a context that lets the test's own script in.
        var axe = Path.Combine(TestEngine.RepoRoot, "tests", "peers", "axe", "node_modules", "axe-core", "axe.min.js");
        if (!File.Exists(axe)) throw Peers.Missing("axe-core is not installed (" + axe + ")", "run tests/peers/axe/install.sh (or scripts/setup-peers.sh)");
        foreach (var scheme in new[] { ColorScheme.Light, ColorScheme.Dark })
        {
            await using var context = await _browser.NewContextAsync(new BrowserNewContextOptions { BypassCSP = true, ColorScheme = scheme });
            var audited = await context.NewPageAsync();
            await audited.GotoAsync(new Uri(_gateway.Url, "dashboard").ToString());
            await audited.WaitForFunctionAsync("() => Number(document.body.dataset.updated) > 0");
            await audited.AddScriptTagAsync(new PageAddScriptTagOptions { Path = axe });
            var serious = await audited.EvaluateAsync<string[]>(
                "async () => (await axe.run(document)).violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))");
            Assert.True(serious.Length == 0, $"axe ({scheme}): " + string.Join("; ", serious));
        }
    }

    private static async Task WaitAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the gateway did not take the catalog's change within 10 s");
            await Task.Delay(20);
        }
    }
}
