using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace InfraMind.Gateway.Dashboard;

/// <summary>
/// The operators' dashboard: <c>GET /dashboard</c> (and <c>/</c>, redirected there), one page whose stylesheet and
/// script are resources of this assembly, so it fetches nothing but them and the gateway's own state
/// (<see cref="StatePath"/>, what it draws: <see cref="MeshState.DashboardView"/>). Served with a Content-Security-Policy that allows only this origin's script, style and
/// fetches, no inline code, no frames and no forms.
/// </summary>
internal static class DashboardEndpoints
{
    /// <summary>The document the page polls: the summary, and the first nodes, models and failures its filter keeps.</summary>
    public const string StatePath = "/dashboard/state";

    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static readonly (string Path, string Resource, string ContentType)[] Assets =
    [
        ("/dashboard", "dashboard.html", "text/html; charset=utf-8"),
        ("/dashboard/dashboard.css", "dashboard.css", "text/css; charset=utf-8"),
        ("/dashboard/dashboard.js", "dashboard.js", "text/javascript; charset=utf-8"),
    ];

    public static void Map(WebApplication app)
    {
        foreach (var (path, resource, contentType) in Assets)
        {
            var bytes = Read(resource);
            app.MapGet(path, (HttpContext context) =>
            {
                var headers = context.Response.Headers;
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                headers.XContentTypeOptions = "nosniff";
                headers.XFrameOptions = "DENY";
                headers["Referrer-Policy"] = "no-referrer";
                headers.CacheControl = "no-cache";
                return Results.Bytes(bytes, contentType);
            });
        }

        app.MapGet("/", () => Results.Redirect("/dashboard"));
    }

    private static byte[] Read(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("InfraMind.Gateway.Dashboard." + name)
            ?? throw new InvalidOperationException($"the dashboard's resource {name} is missing from the gateway assembly");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
