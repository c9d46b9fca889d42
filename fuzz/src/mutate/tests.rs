use super::*;

#[test]
fn mutations_are_reproducible_and_bounded() {
    let seeds = vec![
        br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#.to_vec(),
        b"200\ncontent-type: application/json\n\n{\"id\":\"x\"}".to_vec(),
        b"data: {\"a\":1}\n\ndata: [DONE]\n\n".to_vec(),
    ];
    let mutator = Mutator::new(&seeds, 4096);
    let run = |seed| {
        let mut rng = Rng::new(seed);
        let mut outputs = Vec::new();
        for i in 0..2000 {
            let mut data = seeds[i % seeds.len()].clone();
            mutator.mutate(&mut rng, &mut data);
            assert!(data.len() <= 4096);
            outputs.push(data);
        }
        outputs
    };
    let a = run(1);
    assert_eq!(a, run(1));
    assert_ne!(a, run(2));
    // The JSON-aware edits keep many inputs parseable.
    let parseable = a
        .iter()
        .filter(|d| serde_json::from_slice::<Value>(d).is_ok())
        .count();
    assert!(parseable > 100, "{parseable}");
}

#[test]
fn json_regions_find_bodies_and_stream_lines() {
    let data = b"429\nretry-after: 1\n\n{\"a\":1}";
    let regions = json_regions(data);
    assert!(regions.iter().any(|&(s, e)| &data[s..e] == b"{\"a\":1}"));
    let stream = b"event: x\ndata: {\"b\":2}\n\n";
    let regions = json_regions(stream);
    assert!(regions.iter().any(|&(s, e)| &stream[s..e] == b"{\"b\":2}"));
}
