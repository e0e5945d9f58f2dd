using System.Globalization;
using System.Text;
using InfraMind.Registry.Log;
using InfraMind.Registry.Models;
using InfraMind.Signing;

// Test helper, killed with SIGKILL by the crash tests. Prints one line per durable append/publish.
//   CrashHost log <log.sqlite> <keys dir>   raw log appends: "acked INDEX"
//   CrashHost registry <data dir>           publishes: "acked NAME VERSION INDEX"
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: InfraMind.Registry.CrashHost log <log.sqlite> <keys-dir> | registry <data-dir>");
    return 2;
}

var output = TextWriter.Synchronized(Console.Out);
if (args[0] == "registry")
{
    await using var registry = await ModelRegistry.OpenAsync(args[1], TimeProvider.System, null, null, CancellationToken.None);
    output.WriteLine("ready");
    output.Flush();
    await Task.WhenAll(Enumerable.Range(0, 32).Select(p => Task.Run(async () =>
    {
        using var key = SigningKey.CreateEphemeral();
        var name = string.Create(CultureInfo.InvariantCulture, $"model-{p}-{Environment.ProcessId}");
        for (var v = 0; ; v++)
        {
            var version = string.Create(CultureInfo.InvariantCulture, $"1.0.{v}");
            var statement = PublishStatement.Create(name, version, "sha256:" + new string('a', 64), Encoding.UTF8.GetBytes(name), [], key.PublicKey, TimeProvider.System);
            var result = await registry.PublishAsync(Dsse.SignPublish(statement, key), CancellationToken.None);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"acked {name} {version} {result.Entry.Index}"));
            output.Flush();
        }
    })));
    return 0;
}

using var registryKey = new KeyStore(args[2]).LoadOrGenerate("registry");
await using var log = await TransparencyLog.OpenSqliteAsync(args[1], registryKey, TimeProvider.System, null, CancellationToken.None);
output.WriteLine("ready");
output.Flush();
await Task.WhenAll(Enumerable.Range(0, 32).Select(p => Task.Run(async () =>
{
    for (var i = 0; ; i++)
    {
        var data = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{{\"publisher\":{p},\"n\":{i},\"pad\":\"{new string('x', 200)}\"}}"));
        var entry = await log.AppendAsync(data, CancellationToken.None);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"acked {entry.Index}"));
        output.Flush();
    }
})));
return 0;
