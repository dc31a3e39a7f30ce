using SignalStream.Hub.Transport.Internal;

namespace SignalStream.Hub.Tests.Transport;

/// <summary>
/// The scanner must know, after any write however it is cut, whether another whole frame may go next: never inside a
/// frame, never between the fragments of a data message.
/// </summary>
public sealed class WebSocketFrameScannerTests
{
    [Fact]
    public void WholeFramesLeaveTheConnectionBetweenMessagesWhereverTheWritesAreCut()
    {
        byte[] stream = [.. Text(new byte[5]), .. Text(new byte[300]), .. Text(new byte[70_000])];
        var boundaries = new HashSet<int> { 0, 7, 7 + 304 };
        for (var cut = 1; cut < stream.Length; cut += cut < 400 ? 1 : 997)
        {
            var scanner = new WebSocketFrameScanner();
            scanner.Scan(stream.AsSpan(0, cut));
            Assert.Equal(!boundaries.Contains(cut), scanner.InsideMessage);
            scanner.Scan(stream.AsSpan(cut));
            Assert.False(scanner.InsideMessage);
        }
    }

    [Fact]
    public void AFragmentedMessageStaysOpenUntilItsFinalFrameAndControlFramesDoNotEndIt()
    {
        var scanner = new WebSocketFrameScanner();
        scanner.Scan(Frame(0x01, fin: false, new byte[10])); // text, more to come
        Assert.True(scanner.InsideMessage);
        scanner.Scan(Frame(0x09, fin: true, new byte[2])); // a ping between fragments
        Assert.True(scanner.InsideMessage);
        scanner.Scan(Frame(0x00, fin: false, new byte[3])); // continuation, more to come
        Assert.True(scanner.InsideMessage);
        scanner.Scan(Frame(0x00, fin: true, new byte[3])); // the final fragment
        Assert.False(scanner.InsideMessage);
        Assert.False(scanner.SawClose);
    }

    [Fact]
    public void ACloseFrameIsSeenAndAMaskedHeaderIsFollowedToo()
    {
        var scanner = new WebSocketFrameScanner();
        byte[] masked = [0x81, 0x80 | 3, 1, 2, 3, 4, 9, 9, 9];
        scanner.Scan(masked.AsSpan(0, 5));
        Assert.True(scanner.InsideMessage);
        scanner.Scan(masked.AsSpan(5));
        Assert.False(scanner.InsideMessage);
        scanner.Scan(Frame(0x08, fin: true, [0x03, 0xe8]));
        Assert.True(scanner.SawClose);
    }

    [Fact]
    public void TheTextHeaderCarriesEachLengthForm()
    {
        foreach (var length in new[] { 0, 125, 126, 65_535, 65_536 })
        {
            var header = new byte[WebSocketFraming.HeaderLength(length)];
            WebSocketFraming.WriteTextHeader(header, length);
            var scanner = new WebSocketFrameScanner();
            scanner.Scan(header);
            scanner.Scan(new byte[length]);
            Assert.False(scanner.InsideMessage);
            Assert.Equal(0x81, header[0]);
        }
    }

    internal static byte[] Text(byte[] payload)
    {
        var header = new byte[WebSocketFraming.HeaderLength(payload.Length)];
        WebSocketFraming.WriteTextHeader(header, payload.Length);
        return [.. header, .. payload];
    }

    internal static byte[] Frame(byte opcode, bool fin, byte[] payload)
    {
        var frame = Text(payload);
        frame[0] = (byte)((fin ? 0x80 : 0) | opcode);
        return frame;
    }
}
