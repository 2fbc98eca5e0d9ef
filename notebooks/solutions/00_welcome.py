# One solution to the 00_welcome exercise.
async def my_main(lab):
    bus = ppl.PubSub("news")
    sub = bus.subscribe("headlines", lambda message: None, name="reader")
    for n in range(3):
        if n:
            await ppl.sleep(1)
        await bus.publish("headlines", n)
    await bus.join()
    return sub.delivered


ppl.exercises.check("00.first-simulation", my_main)
