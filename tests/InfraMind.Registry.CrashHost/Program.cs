using System.Globalization;
using System.Text;
using InfraMind.Registry.Log;
using InfraMind.Signing;

// Usage: CrashHost <log.sqlite> <keys dir>. Prints "acked N" after each durable append; the test kills it with SIGKILL.
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: InfraMind.Registry.CrashHost <log.sqlite> <keys-dir>");
    return 2;
}

using var key = new KeyStore(args[1]).LoadOrGenerate("registry");
await using var log = await TransparencyLog.OpenSqliteAsync(args[0], key, TimeProvider.System, null, CancellationToken.None);
var output = TextWriter.Synchronized(Console.Out);
output.WriteLine("ready");
output.Flush();

var publishers = Enumerable.Range(0, 32).Select(p => Task.Run(async () =>
{
    for (var i = 0; ; i++)
    {
        var data = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{{\"publisher\":{p},\"n\":{i},\"pad\":\"{new string('x', 200)}\"}}"));
        var entry = await log.AppendAsync(data, CancellationToken.None);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"acked {entry.Index}"));
        output.Flush();
    }
})).ToArray();
await Task.WhenAll(publishers);
return 0;
