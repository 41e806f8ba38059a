"""Labelled messages written for Cairn's gate benchmark: chit-chat and tasks that need no memory,
and first-person questions about one's own life that do (the latter only when fitting)."""

CHITCHAT = [
    "hello!", "hi there", "good morning", "thanks a lot", "bye for now", "hey, how are you?",
    "Write a haiku about autumn leaves.", "Write a limerick about a cat who codes.",
    "Compose a short poem about the sea.", "Translate 'good night' into Spanish.",
    "Translate this to French: where is the station?", "What is 17 * 23?", "What's 144 / 12?",
    "Calculate 15% of 80.", "What is the square root of 81?", "Convert 10 miles to kilometres.",
    "Explain how a rainbow forms.", "Explain recursion to a beginner.", "Summarize the plot of Hamlet.",
    "Give me three tips for better sleep.", "Suggest a name for a bakery.", "Tell me a joke.",
    "Tell me a fun fact about octopuses.", "Write a Python function that reverses a string.",
    "How do I boil an egg?", "What does 'ephemeral' mean?", "Define photosynthesis.",
    "List five fruits that are high in vitamin C.", "Generate a random password idea.",
    "Rewrite this sentence more politely: give me the report now.", "Draft a short thank-you email.",
    "What rhymes with orange?", "Recommend a board game for four players.", "How many days are in a leap year?",
    "What is the boiling point of water in Fahrenheit?", "Solve 2x + 6 = 14.", "Can you write a riddle?",
    "Could you explain what an API is?", "Please write a two-line motivational quote.",
    "Create a grocery list for a pasta dinner.", "What time zone is used in Tokyo?",
    "Explain the difference between weather and climate.", "Write a tweet announcing a bake sale.",
    "Give me a synonym for happy.", "How do you say thank you in Japanese?", "What's 2 to the power of 10?",
    "Summarise the theory of evolution in two sentences.", "Write a short story opening line.",
    "Suggest a stretching routine for the morning.", "What are the primary colours?",
]


# First-person questions about the user's own life, used only when fitting (LoCoMo's questions name
# the speakers in the third person; a user asks about "my" things): they must retrieve.
FIRST_PERSON = [
    "What did I tell you about my sister?", "When is my dentist appointment?", "What's my wifi password at the cabin?",
    "Where did I park the car last week?", "What did I say my favourite book was?", "When is my brother's birthday?",
    "What medication does my cat need?", "Who is my cello teacher?", "What was I allergic to again?",
    "Which hotel did I book for the trip?", "What did we decide about the garden?", "Remind me what my boss asked for.",
    "What did I buy for Ana's birthday last year?", "Where does my sister live now?", "What was the name of my first dog?",
    "Did I already pay the electricity bill?", "What did I plan for the weekend?", "How far did I run on Sunday?",
    "What's the name of the restaurant I liked in Porto?", "When did I start my new job?",
    "What did my doctor say about my knee?", "Which train do I usually take to work?",
    "What did I promise to bring to the party?", "What are my goals for this year?",
    "Who did I meet at the conference?", "What did I write about the meeting on Monday?",
]
