using DeepTrain.Tests.Data;

namespace DeepTrain.Tests.Cli;

/// <summary>
/// Runs the <c>deeptrain</c> command in process for the CLI tests (which share <see cref="ConsoleCollection"/>:
/// console redirection is process-wide), and writes the small data sets they train on.
/// </summary>
internal static class CliRunner
{
    /// <summary><c>deeptrain args…</c>: the exit code and what it wrote to standard output and standard error.</summary>
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var (o, e) = (new StringWriter(), new StringWriter());
        Console.SetOut(o);
        Console.SetError(e);
        try { return (DeepTrain.Cli.Program.Main(args), o.ToString(), e.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
    }

    /// <summary>A small MNIST-format data set (gzip IDX, 28×28) of <paramref name="train"/> and <paramref name="test"/> images in <c>dir/mnist</c>.</summary>
    /// <returns>The data set's folder.</returns>
    public static string MakeMnist(TempDir dir, int train, int test)
    {
        Directory.CreateDirectory(dir["mnist"]);
        dir.Write("mnist/train-images-idx3-ubyte.gz", DataBytes.IdxImages(train, 28, 28), gzip: true);
        dir.Write("mnist/train-labels-idx1-ubyte.gz", DataBytes.IdxLabels(DataBytes.Labels(train)), gzip: true);
        dir.Write("mnist/t10k-images-idx3-ubyte.gz", DataBytes.IdxImages(test, 28, 28), gzip: true);
        dir.Write("mnist/t10k-labels-idx1-ubyte.gz", DataBytes.IdxLabels(DataBytes.Labels(test)), gzip: true);
        return dir["mnist"];
    }
}
