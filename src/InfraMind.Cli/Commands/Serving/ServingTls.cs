using System.CommandLine;
using System.Security.Cryptography.X509Certificates;
using InfraMind.Serving.Tls;

namespace InfraMind.Cli.Commands.Serving;

/// <summary>
/// Whether a serving command (registry, gateway, node) speaks TLS, in one place (#16): on loopback plain HTTP unless
/// `--tls`; off loopback TLS unless `--plaintext` — requests, answers, mesh tokens and node credentials then never cross
/// a network in the clear by default. The certificate is the server's own self-signed one
/// ($INFRAMIND_HOME/mesh/tls/NAME.pfx, <see cref="MeshTls"/>), made once and pinned by its peers.
/// </summary>
internal sealed class ServingTls
{
    private ServingTls(Option<bool> tls, Option<bool> plaintext)
    {
        Tls = tls;
        Plaintext = plaintext;
    }

    public Option<bool> Tls { get; }

    public Option<bool> Plaintext { get; }

    /// <param name="pinnedBy">How the server's peers pin it, for --tls's description.</param>
    public static ServingTls Options(string certificateFile, string pinnedBy)
    {
        var tls = new Option<bool>("--tls")
        {
            Description = $"Serve HTTPS with this server's self-signed certificate ($INFRAMIND_HOME/mesh/tls/{certificateFile}, made once, owner-only) also on loopback " +
                          $"(off loopback it is the default); {pinnedBy}",
        };
        var plaintext = new Option<bool>("--plaintext")
        {
            Description = "Serve plain HTTP although --listen names an address off loopback (behind a TLS-terminating proxy, or on a network you trust): a warning says so",
        };
        return new ServingTls(tls, plaintext);
    }

    public void AddTo(Command command)
    {
        command.Options.Add(Tls);
        command.Options.Add(Plaintext);
    }

    /// <summary>True when the server at <paramref name="at"/> serves TLS; a usage error when both options are given.</summary>
    public bool On(ParseResult parse, ListenAt at)
    {
        if (parse.GetValue(Tls) && parse.GetValue(Plaintext))
            throw new InfraMindException(CliErrorCodes.UsageError, "--tls and --plaintext contradict each other", "pass one of them (off loopback TLS is the default)");
        return parse.GetValue(Tls) || (!at.IsLoopback && !parse.GetValue(Plaintext));
    }

    /// <summary>The certificate the server at <paramref name="at"/> serves (kept as NAME.pfx), or null for plain HTTP.</summary>
    public X509Certificate2? Certificate(CliContext context, ParseResult parse, ListenAt at, string name) =>
        On(parse, at) ? MeshTls.LoadOrCreate(context.Home.TlsCertificate(name), name) : null;

    /// <summary>
    /// A usage error when --advertise names the other scheme than the server speaks (peers would fail to connect), and the
    /// warning of a plain HTTP server off loopback.
    /// </summary>
    public static async Task CheckAsync(CliContext context, ListenAt at, Uri? advertise, X509Certificate2? certificate, string what, string crossing)
    {
        var scheme = certificate is null ? "http" : "https";
        if (advertise is not null && advertise.Scheme != scheme)
        {
            throw new InfraMindException(CliErrorCodes.UsageError, $"--advertise {advertise} is {advertise.Scheme}, but {what} serves {scheme}",
                certificate is null ? "advertise http://… or drop --plaintext" : "advertise https://… (off loopback TLS is the default), or pass --plaintext to serve HTTP");
        }

        if (!at.IsLoopback && certificate is null)
            await context.Error.WriteLineAsync($"warning: {what} listens on {at} over plain HTTP (--plaintext): {crossing} cross that network unencrypted");
    }
}
