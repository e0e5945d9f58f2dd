namespace InfraMind.Manifest; internal static class Placeholder {}
