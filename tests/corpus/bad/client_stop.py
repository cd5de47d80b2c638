# expect: forbidden-attribute
# technique: session control: stop the bot
def run(bot, args):
    bot.stop()
