// Placeholder until the fake exchange lands: see issue "Foundation and Binance ingest".
Console.WriteLine("SignalStream fake exchange");
